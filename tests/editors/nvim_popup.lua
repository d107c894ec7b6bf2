-- Neovim test (b), run with `nvim --clean --headless -c 'luafile nvim_popup.lua'` (not -l: the
-- popup needs the main loop to keep running in insert mode, driven by timers):
-- the built-in completion popup opens by itself after a space with nextword's items, accepting
-- one with <C-n><C-y> puts it in the buffer, and starting a new word re-opens the popup with
-- items that match what was typed.
local t = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)), 'nvim_common.lua'))

vim.o.showmode = false
vim.opt.shortmess:append('c')

require('nextword').setup({ settings = t.settings })
vim.cmd.edit(vim.fn.fnameescape(t.test_file))
local bufnr = vim.api.nvim_get_current_buf()
local client = t.wait_for_client(bufnr)
if vim.bo[bufnr].completeopt ~= 'menuone,noselect,popup' then
  t.fail("setup() did not set the buffer's completeopt: " .. vim.bo[bufnr].completeopt)
end

local feed, when = t.feed, t.when

--- The popup's items when it is visible and every item came from the nextword client.
local function nextword_popup()
  if vim.fn.pumvisible() ~= 1 then
    return nil
  end
  local info = vim.fn.complete_info({ 'items', 'selected' })
  if #info.items == 0 then
    return nil
  end
  for _, item in ipairs(info.items) do
    local client_id = vim.tbl_get(item, 'user_data', 'nvim', 'lsp', 'client_id')
    if client_id ~= client.id then
      error('popup item "' .. item.word .. '" does not come from nextword: ' .. vim.inspect(item))
    end
  end
  return info.items
end

local sentence = 'The weather today is'
local accepted

local function finish()
  vim.cmd.stopinsert()
  vim.schedule(function()
    vim.cmd.write()
    local on_disk = table.concat(vim.fn.readfile(t.test_file), '\n')
    if not on_disk:find(sentence .. ' ' .. accepted, 1, true) then
      t.fail('the saved file lacks the accepted word:\n' .. on_disk)
    end
    t.pass(('popup after a space, accepted "%s", popup on a new word'):format(accepted))
  end)
end

local function check_word_start()
  -- Start another word with the first letter of the accepted one: the popup opens again
  -- (trigger_on_letters) and offers only words with that letter.
  local letter = accepted:sub(1, 1)
  feed(' ' .. letter)
  when('the popup after typing "' .. letter .. '"', function()
    local items = nextword_popup()
    if items and vim.api.nvim_get_current_line():sub(-2) == ' ' .. letter then
      return items
    end
  end, function(items)
    local words = vim.tbl_map(function(item) return item.word end, items)
    t.log(('popup after "%s": %s'):format(letter, table.concat(words, ', ')))
    for _, word in ipairs(words) do
      if word:sub(1, 1):lower() ~= letter:lower() then
        t.fail(('popup offers "%s" after typing "%s"'):format(word, letter))
      end
    end
    finish()
  end)
end

local function accept_first(items)
  local words = vim.tbl_map(function(item) return item.word end, items)
  t.log('popup after the space: ' .. table.concat(words, ', '))
  accepted = items[1].word
  feed('<C-n><C-y>')
  when('the accepted word in the buffer', function()
    if vim.fn.pumvisible() == 0 and vim.api.nvim_get_current_line() == sentence .. ' ' .. accepted then
      return true
    end
  end, function()
    t.log('accepted: ' .. vim.api.nvim_get_current_line())
    check_word_start()
  end)
end

feed('Go' .. sentence .. ' ')
when('the completion popup after a space', function()
  if vim.api.nvim_get_mode().mode:sub(1, 1) == 'i' and vim.api.nvim_get_current_line() == sentence .. ' ' then
    return nextword_popup()
  end
end, accept_first)

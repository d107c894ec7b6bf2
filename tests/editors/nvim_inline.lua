-- Neovim test (c), run with `nvim --clean --headless -c 'luafile nvim_inline.lua'` (insert mode
-- needs the main loop, driven by timers): with `completion.inline`, typing the first letters of a
-- made-up name that the document used before shows the rest of it as ghost text
-- (vim.lsp.inline_completion), and vim.lsp.inline_completion.get() accepts it into the buffer.
local t = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)), 'nvim_common.lua'))

vim.o.showmode = false
vim.opt.shortmess:append('c')

if not vim.lsp.inline_completion then
  t.fail('this Neovim has no vim.lsp.inline_completion')
end

require('nextword').setup({
  settings = t.settings,
  completion = { inline = true, autotrigger = false },
})
vim.cmd.edit(vim.fn.fnameescape(t.test_file))
local bufnr = vim.api.nvim_get_current_buf()
t.wait_for_client(bufnr)
if not vim.lsp.inline_completion.is_enabled({ bufnr = bufnr }) then
  t.fail('setup() did not enable inline completion in the buffer')
end

local name = 'Zorblat Quenwick'
local story = ('%s came. Then %s left. We met %s again.'):format(name, name, name)
vim.api.nvim_buf_set_lines(bufnr, -1, -1, true, { story })

local feed, when = t.feed, t.when

--- The ghost text shown in the buffer (the inline completion's extmarks), or nil.
local function ghost_text()
  local namespace = vim.api.nvim_get_namespaces()['nvim.lsp.inline_completion']
  if not namespace then
    return nil
  end
  local parts = {}
  for _, mark in ipairs(vim.api.nvim_buf_get_extmarks(bufnr, namespace, 0, -1, { details = true })) do
    for _, chunk in ipairs(mark[4].virt_text or {}) do
      table.insert(parts, chunk[1])
    end
  end
  local text = table.concat(parts)
  return text ~= '' and text or nil
end

local typed = 'Today Zorb'
local shown

local function finish()
  vim.cmd.stopinsert()
  vim.schedule(function()
    vim.cmd.write()
    local on_disk = table.concat(vim.fn.readfile(t.test_file), '\n')
    if not on_disk:find(typed .. shown, 1, true) then
      t.fail('the saved file lacks the accepted ghost text:\n' .. on_disk)
    end
    t.pass(('ghost text "%s" after "%s", accepted'):format(shown, typed))
  end)
end

feed('Go' .. typed)
when('ghost text after "' .. typed .. '"', function()
  if vim.api.nvim_get_current_line() == typed then
    return ghost_text()
  end
end, function(text)
  shown = text
  t.log(('ghost text after "%s": "%s"'):format(typed, text))
  if not vim.startswith(typed .. text, 'Today Zorblat') then
    t.fail('the ghost text does not complete the name: "' .. text .. '"')
  end
  if not vim.lsp.inline_completion.get({ bufnr = bufnr }) then
    t.fail('vim.lsp.inline_completion.get() found no suggestion to accept')
  end
  when('the accepted ghost text in the buffer', function()
    if vim.api.nvim_get_current_line() == typed .. shown then
      return true
    end
  end, function()
    t.log('accepted: ' .. vim.api.nvim_get_current_line())
    finish()
  end)
end)

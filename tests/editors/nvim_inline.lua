-- Neovim test (c), run with `nvim --clean --headless -c 'luafile nvim_inline.lua'` (insert mode
-- needs the main loop, driven by timers): with `completion.inline`, typing the first letters of a
-- made-up name that the document used before shows the rest of it as ghost text
-- (vim.lsp.inline_completion), and vim.lsp.inline_completion.get() accepts it into the buffer.
local t = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)), 'nvim_common.lua'))

vim.o.showmode = false
vim.opt.shortmess:append('c')

local bufnr = t.open_with_inline()

local feed, when = t.feed, t.when

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
    return t.ghost_text(bufnr)
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

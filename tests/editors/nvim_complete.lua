-- Neovim test (a), run with `nvim --clean --headless -l nvim_complete.lua`:
-- setup() attaches the nextword server to a Markdown file, typing produces completion items
-- from it, accepting one (applying its textEdit, as nvim-cmp and blink.cmp do) inserts the word,
-- update_settings() reaches the server, and :checkhealth nextword reports no error.
local t = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)), 'nvim_common.lua'))

require('nextword').setup({ settings = vim.tbl_extend('force', t.settings, { max_items = 8 }) })
vim.cmd.edit(vim.fn.fnameescape(t.test_file))
local bufnr = vim.api.nvim_get_current_buf()
if vim.bo[bufnr].filetype ~= 'markdown' then
  t.fail('filetype is ' .. vim.bo[bufnr].filetype .. ', expected markdown')
end
local client = t.wait_for_client(bufnr)
t.log(('attached: client %d, offset encoding %s, cmd %s'):format(
  client.id, client.offset_encoding, table.concat(client.config.cmd, ' ')))
if vim.tbl_get(client.config, 'init_options', 'nextword', 'max_items') ~= 8 then
  t.fail('init_options do not carry the setup() settings: ' .. vim.inspect(client.config.init_options))
end
local provider = client.server_capabilities.completionProvider
if not provider or not vim.tbl_contains(provider.triggerCharacters or {}, ' ') then
  t.fail('server does not advertise " " as a completion trigger: ' .. vim.inspect(provider))
end

--- Type `keys` (from normal mode, like a user), then ask for completions at the end of the line.
local function type_and_complete(keys)
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(keys, true, false, true), 'nx', false)
  local row = vim.api.nvim_win_get_cursor(0)[1] - 1
  local line = vim.api.nvim_get_current_line()
  local params = {
    textDocument = vim.lsp.util.make_text_document_params(bufnr),
    position = { line = row, character = vim.str_utfindex(line, client.offset_encoding) },
    context = { triggerKind = 1 },
  }
  local responses, err = vim.lsp.buf_request_sync(bufnr, 'textDocument/completion', params, t.timeout_ms)
  if not responses then
    t.fail('completion request failed: ' .. tostring(err))
  end
  local response = responses[client.id]
  if not response or response.err then
    t.fail('completion error: ' .. vim.inspect(response))
  end
  return t.sorted_items(response.result or {}), response.result
end

-- A multi-byte character before the cursor checks the negotiated position encoding end to end.
local sentence = 'The café was open and the'
local next_word_items = type_and_complete('Go' .. sentence .. ' <Esc>')
t.log('after "' .. sentence .. ' ": ' .. t.labels(next_word_items, 8))
if #next_word_items == 0 then
  t.fail('no completion items after a space')
end
if #next_word_items > 8 then
  t.fail(('max_items = 8 was not honoured: %d items'):format(#next_word_items))
end

-- Type the first two letters of the top word: the server must narrow to words with that prefix.
local target = next_word_items[1].label
local prefix = target:sub(1, math.min(2, #target))
local items, result = type_and_complete('A' .. prefix .. '<Esc>')
t.log(('after typing "%s": %s'):format(prefix, t.labels(items, 8)))
if #items == 0 then
  t.fail('no completion items after typing "' .. prefix .. '"')
end
if result.isIncomplete ~= true then
  t.fail('expected isIncomplete = true so editors re-ask as the word grows')
end
for _, item in ipairs(items) do
  local filter = (item.filterText or item.label):lower()
  if filter:sub(1, #prefix) ~= prefix:lower() then
    t.fail(('item "%s" does not start with the typed "%s"'):format(item.label, prefix))
  end
end

-- Accept the top item the way completion plugins do: apply its textEdit.
local chosen = items[1]
if not chosen.textEdit then
  t.fail('item has no textEdit: ' .. vim.inspect(chosen))
end
vim.lsp.util.apply_text_edits({ chosen.textEdit }, bufnr, client.offset_encoding)
local line = vim.api.nvim_get_current_line()
local expected = sentence .. ' ' .. (chosen.textEdit.newText or chosen.label)
if line ~= expected then
  t.fail(('after accepting "%s" the line is "%s", expected "%s"'):format(chosen.label, line, expected))
end
t.log('accepted "' .. chosen.label .. '": ' .. line)

vim.cmd.write()
local on_disk = table.concat(vim.fn.readfile(t.test_file), '\n')
if not on_disk:find(expected, 1, true) then
  t.fail('the saved file lacks "' .. expected .. '":\n' .. on_disk)
end

-- update_settings() reaches the running server (workspace/didChangeConfiguration).
require('nextword').update_settings({ max_items = 2 })
local fewer = type_and_complete('o' .. sentence .. ' <Esc>')
t.log('after update_settings({ max_items = 2 }): ' .. t.labels(fewer))
if #fewer == 0 or #fewer > 2 then
  t.fail(('expected 1 or 2 items after update_settings, got %d'):format(#fewer))
end

-- :checkhealth nextword must find the server and a bundle that verifies.
vim.cmd('checkhealth nextword')
local report = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
t.log('checkhealth:\n' .. report)
if report:find('ERROR') or not report:find('OK') or not report:find('verifies') then
  t.fail(':checkhealth nextword reported a problem')
end

t.pass('completion items from the server, accepted word saved to disk')

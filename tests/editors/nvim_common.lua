-- Shared by the Neovim tests: load the plugin from the checkout, report, fail loudly.
-- Inputs (environment): NEXTWORD_PLUGIN_DIR (editor-clients/neovim), NEXTWORD_TEST_FILE (a
-- Markdown file to edit). `nextword` must be on PATH.
local M = {}

M.plugin_dir = assert(os.getenv('NEXTWORD_PLUGIN_DIR'), 'NEXTWORD_PLUGIN_DIR not set')
M.test_file = assert(os.getenv('NEXTWORD_TEST_FILE'), 'NEXTWORD_TEST_FILE not set')
M.timeout_ms = tonumber(os.getenv('NEXTWORD_TEST_TIMEOUT_MS') or '') or 60000
-- Settings for setup(): the default bundle unless NEXTWORD_TEST_BUNDLE names another.
M.settings = { bundle = os.getenv('NEXTWORD_TEST_BUNDLE') }

vim.opt.runtimepath:prepend(M.plugin_dir)
-- Completion plugins must not be found, so setup() picks the built-in completion.
vim.opt.packpath = {}

function M.log(message)
  io.stdout:write('[nvim-test] ' .. message .. '\n')
  io.stdout:flush()
end

function M.fail(message)
  io.stderr:write('[nvim-test] FAIL: ' .. message .. '\n')
  io.stderr:flush()
  vim.cmd('cquit 1')
end

function M.pass(message)
  M.log('PASS: ' .. message)
  vim.cmd('qall!')
end

--- Wait (processing events) until the nextword client is attached to `bufnr` and initialized.
---@return vim.lsp.Client
function M.wait_for_client(bufnr)
  local client
  local ok = vim.wait(M.timeout_ms, function()
    client = vim.lsp.get_clients({ bufnr = bufnr, name = 'nextword' })[1]
    return client ~= nil and client.initialized == true
  end, 50)
  if not ok then
    M.fail('nextword did not attach to ' .. vim.api.nvim_buf_get_name(bufnr) .. ' within '
      .. M.timeout_ms .. ' ms; :messages: ' .. vim.fn.execute('messages'))
  end
  return client
end

--- The labels of a completion response's items, in the server's order (sortText).
---@param result lsp.CompletionList|lsp.CompletionItem[]
---@return lsp.CompletionItem[]
function M.sorted_items(result)
  local items = result.items or result
  local sorted = vim.list_slice(items, 1, #items)
  table.sort(sorted, function(a, b)
    return (a.sortText or a.label) < (b.sortText or b.label)
  end)
  return sorted
end

function M.labels(items, limit)
  local labels = {}
  for index, item in ipairs(items) do
    if index > (limit or #items) then
      break
    end
    table.insert(labels, item.label)
  end
  return table.concat(labels, ', ')
end

--- Type keys as if the user did (through mappings, like a real keyboard).
function M.feed(keys)
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(keys, true, false, true), 't', false)
end

--- Poll every 50 ms until `check()` returns a value, then call `next_step(value)`.
function M.when(description, check, next_step)
  local deadline = vim.uv.now() + M.timeout_ms
  local timer = assert(vim.uv.new_timer())
  timer:start(50, 50, vim.schedule_wrap(function()
    if not timer:is_active() then
      return
    end
    local ok, value = pcall(check)
    if not ok then
      timer:stop()
      M.fail(description .. ': ' .. tostring(value))
    elseif value ~= nil then
      timer:stop()
      next_step(value)
    elseif vim.uv.now() > deadline then
      timer:stop()
      M.fail(('timed out waiting for %s (mode %s, line "%s")'):format(
        description, vim.api.nvim_get_mode().mode, vim.api.nvim_get_current_line()))
    end
  end))
end

--- Set up nextword with ghost text on (`settings` over the test's) and open the test file with
--- a made-up name used three times in it; returns the buffer.
function M.open_with_inline(settings)
  if not vim.lsp.inline_completion then
    M.fail('this Neovim has no vim.lsp.inline_completion')
  end
  require('nextword').setup({
    settings = vim.tbl_extend('force', M.settings, settings or {}),
    completion = { inline = true, autotrigger = false },
  })
  vim.cmd.edit(vim.fn.fnameescape(M.test_file))
  local bufnr = vim.api.nvim_get_current_buf()
  M.wait_for_client(bufnr)
  if not vim.lsp.inline_completion.is_enabled({ bufnr = bufnr }) then
    M.fail('setup() did not enable inline completion in the buffer')
  end
  local name = M.made_up_name
  local story = ('%s came. Then %s left. We met %s again.'):format(name, name, name)
  vim.api.nvim_buf_set_lines(bufnr, -1, -1, true, { story })
  return bufnr
end

M.made_up_name = 'Zorblat Quenwick'

--- The ghost text shown in `bufnr` (the inline completion's extmarks), or nil.
function M.ghost_text(bufnr)
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

return M

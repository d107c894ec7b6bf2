-- Loads every module of the plugin, checks the lsp/ config and setup()'s merging, and builds
-- the help tags (run with `nvim --clean --headless -l nvim_load.lua`; NEXTWORD_PLUGIN_DIR is a
-- copy of editor-clients/neovim, since :helptags writes doc/tags).
local plugin_dir = assert(os.getenv('NEXTWORD_PLUGIN_DIR'), 'NEXTWORD_PLUGIN_DIR not set')
vim.opt.runtimepath:prepend(plugin_dir)
vim.opt.packpath = {}

local function fail(message)
  io.stderr:write('[nvim-test] FAIL: ' .. message .. '\n')
  vim.cmd('cquit 1')
end

local function check(condition, message)
  if not condition then
    fail(message)
  end
end

-- Every Lua file loads without error.
for _, file in ipairs(vim.fn.globpath(plugin_dir, '**/*.lua', false, true)) do
  local chunk, err = loadfile(file)
  check(chunk ~= nil, 'cannot load ' .. file .. ': ' .. tostring(err))
end
local nextword = require('nextword')
require('nextword.health')

-- lsp/nextword.lua is found on the runtimepath by vim.lsp.config.
local base = vim.lsp.config.nextword
check(base ~= nil, 'vim.lsp.config.nextword is nil: lsp/nextword.lua not found')
check(vim.deep_equal(base.cmd, { 'nextword', 'serve' }), 'base cmd: ' .. vim.inspect(base.cmd))
check(vim.tbl_contains(base.filetypes, 'markdown'), 'markdown missing from filetypes')
check(base.get_language_id(0, 'text') == 'plaintext', 'text is not sent as plaintext')
check(base.get_language_id(0, 'markdown') == 'markdown', 'markdown language id')

-- setup() deep-merges the user's options: lists replace, tables merge.
local notified = {}
vim.notify = function(message)
  table.insert(notified, message)
end
nextword.setup({ filetypes = { 'markdown' }, settings = { max_items = 3 }, python = vim.v.progpath })
local merged = vim.lsp.config.nextword
check(vim.deep_equal(merged.filetypes, { 'markdown' }), 'filetypes: ' .. vim.inspect(merged.filetypes))
check(merged.settings.nextword.max_items == 3, 'max_items not merged')
check(merged.settings.nextword.bundle == '', 'default bundle setting lost in the merge')
check(merged.init_options.nextword.max_items == 3, 'init_options lack the settings')
check(merged.cmd[2] == '-m' and merged.cmd[4] == 'serve', 'python cmd: ' .. vim.inspect(merged.cmd))
check(nextword.options.completion.autotrigger == true, 'completion defaults lost in the merge')
check(vim.lsp.is_enabled('nextword'), 'setup() did not enable the config')
check(#notified == 0, 'unexpected messages: ' .. table.concat(notified, '\n'))

-- A missing server: one clear message, prefixed, and nothing enabled.
vim.lsp.enable('nextword', false)
nextword.setup({ cmd = { '/nonexistent/nextword', 'serve' } })
check(#notified == 1 and notified[1]:find('^%[nextword%] .*not found: pip install nextword'),
  'missing-server message: ' .. vim.inspect(notified))
check(not vim.lsp.is_enabled('nextword'), 'enabled a server that does not exist')

-- A completion plugin on the runtimepath keeps the built-in completion off.
check(nextword.use_builtin_completion(nextword.options), 'built-in completion should be on')
package.loaded['blink.cmp'] = {}
check(nextword.completion_plugin() == 'blink.cmp', 'blink.cmp not detected')
check(not nextword.use_builtin_completion(nextword.options), 'built-in completion with blink.cmp')
package.loaded['blink.cmp'] = nil

-- The help file parses: :helptags succeeds and :help finds the tags.
vim.cmd.helptags(vim.fn.fnameescape(plugin_dir .. '/doc'))
for _, tag in ipairs({ 'nextword', 'nextword.setup()', 'nextword-settings', ':checkhealth-nextword' }) do
  local ok, err = pcall(vim.cmd.help, tag)
  check(ok, ':help ' .. tag .. ' failed: ' .. tostring(err))
end

io.stdout:write('[nvim-test] PASS: modules load, config merges, help tags build\n')
vim.cmd('qall!')

-- nextword for Neovim: `require('nextword').setup(opts)` configures and enables the
-- `nextword serve` language server (see `:help nextword`).
local M = {}

local PREFIX = '[nextword] '

---@class nextword.CompletionOptions
---@field enable boolean|'auto'  'auto': built-in completion unless nvim-cmp or blink.cmp is installed
---@field autotrigger boolean    open the popup by itself (after a space, and see trigger_on_letters)
---@field trigger_on_letters boolean  also open it when a word is started, not only after a space
---@field completeopt string?    buffer-local 'completeopt' for attached buffers (nil: leave it)
---@field inline boolean         ghost text via vim.lsp.inline_completion (Neovim 0.12+), when the
---                              server offers textDocument/inlineCompletion
---@field inline_keys { accept: string|false, accept_word: string|false }  insert-mode keys that
---                              accept the ghost text, whole or its next word (false: none)

---@class nextword.Options
---@field cmd string[]?          server command; nil: { 'nextword', 'serve' } or `python -m ...`
---@field python string?         a Python with nextword installed, used when `cmd` is nil
---@field filetypes string[]
---@field root_markers string[]
---@field settings table         sent to the server under `nextword`: any field of the server's
---                              Settings (server/settings.py), snake_case or camelCase
---@field completion nextword.CompletionOptions

---@type nextword.Options
M.defaults = {
  cmd = nil,
  python = nil,
  filetypes = { 'text', 'markdown', 'tex', 'plaintex', 'rst', 'gitcommit', 'asciidoc' },
  root_markers = { '.git' },
  settings = {
    bundle = '', -- model bundle directory; '': the default model shipped with nextword
    max_items = 6,
    -- learn from the finished sentences you type (kept on this machine; `nextword forget --all`)
    learning = { typing = true },
  },
  completion = {
    enable = 'auto',
    autotrigger = true,
    trigger_on_letters = true,
    completeopt = 'menuone,noselect,popup',
    inline = true,
    inline_keys = { accept = '<Tab>', accept_word = '<M-Right>' },
  },
}

---@type nextword.Options
M.options = vim.deepcopy(M.defaults)

--- Completion plugins that read LSP sources themselves; with one of them the built-in
--- completion stays off so that words are not offered twice.
local COMPLETION_PLUGINS = { 'cmp', 'blink.cmp' }

local function notify(message, level)
  vim.notify(PREFIX .. message, level or vim.log.levels.INFO)
end

---@param opts nextword.Options
---@return string[]
function M.server_cmd(opts)
  if opts.cmd then
    return opts.cmd
  end
  if opts.python then
    return { opts.python, '-m', 'nextword.server.cli', 'serve' }
  end
  return { 'nextword', 'serve' }
end

---@return string? name of the first completion plugin found
function M.completion_plugin()
  for _, module in ipairs(COMPLETION_PLUGINS) do
    local file = 'lua/' .. module:gsub('%.', '/') .. '/init.lua'
    if package.loaded[module] or #vim.api.nvim_get_runtime_file(file, false) > 0 then
      return module
    end
  end
  return nil
end

---@param opts nextword.Options
---@return boolean
function M.use_builtin_completion(opts)
  local enable = opts.completion.enable
  if enable == 'auto' then
    return M.completion_plugin() == nil
  end
  return enable == true
end

--- Letters that start a word, added to the server's trigger characters so that the popup opens
--- when a word is begun, as VS Code's quick suggestions do.
local function word_start_characters()
  local characters = {}
  for byte = string.byte('a'), string.byte('z') do
    table.insert(characters, string.char(byte))
    table.insert(characters, string.char(byte):upper())
  end
  return characters
end

---@param client vim.lsp.Client
---@param bufnr integer
local function enable_builtin_completion(client, bufnr)
  local completion = M.options.completion
  if completion.trigger_on_letters then
    local provider = client.server_capabilities.completionProvider
    if provider then
      local triggers = provider.triggerCharacters or {}
      for _, character in ipairs(word_start_characters()) do
        if not vim.tbl_contains(triggers, character) then
          table.insert(triggers, character)
        end
      end
      provider.triggerCharacters = triggers
    end
  end
  if completion.completeopt then
    vim.bo[bufnr].completeopt = completion.completeopt
  end
  vim.lsp.completion.enable(true, client.id, bufnr, { autotrigger = completion.autotrigger })
end

---@param args { buf: integer, data: { client_id: integer } }
local function on_attach(args)
  local client = vim.lsp.get_client_by_id(args.data.client_id)
  if not client or client.name ~= 'nextword' then
    return
  end
  if M.use_builtin_completion(M.options) then
    enable_builtin_completion(client, args.buf)
  end
  if M.options.completion.inline and vim.lsp.inline_completion then
    if client:supports_method('textDocument/inlineCompletion', args.buf) then
      -- `bufnr` and `client_id` are mutually exclusive filters here (Neovim 0.12).
      vim.lsp.inline_completion.enable(true, { bufnr = args.buf })
      require('nextword.inline').map_keys(args.buf, M.options.completion.inline_keys)
    end
  end
end

--- Configure and enable the nextword language server.
---@param opts nextword.Options|table|nil
function M.setup(opts)
  if vim.fn.has('nvim-0.11') == 0 then
    notify('needs Neovim 0.11 or newer', vim.log.levels.ERROR)
    return
  end
  M.options = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts or {})
  local cmd = M.server_cmd(M.options)
  if vim.fn.executable(cmd[1]) == 0 then
    notify(
      ('`%s` not found: pip install nextword, or pass cmd (or python) to setup()'):format(cmd[1]),
      vim.log.levels.ERROR
    )
    return
  end
  local server_settings = { nextword = M.options.settings }
  vim.lsp.config('nextword', {
    cmd = cmd,
    filetypes = M.options.filetypes,
    root_markers = M.options.root_markers,
    init_options = server_settings,
    settings = server_settings,
  })
  local group = vim.api.nvim_create_augroup('nextword', { clear = true })
  vim.api.nvim_create_autocmd('LspAttach', { group = group, callback = on_attach })
  vim.lsp.enable('nextword')
end

--- Send changed settings to running servers (workspace/didChangeConfiguration).
---@param settings table merged into the current `settings`
function M.update_settings(settings)
  M.options.settings = vim.tbl_deep_extend('force', M.options.settings, settings)
  local payload = { nextword = M.options.settings }
  for _, client in ipairs(vim.lsp.get_clients({ name = 'nextword' })) do
    client.settings = vim.tbl_deep_extend('force', client.settings or {}, payload)
    client:notify('workspace/didChangeConfiguration', { settings = payload })
  end
end

return M

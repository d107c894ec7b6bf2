-- `:checkhealth nextword`: is the server installed, which version, does its model bundle verify.
local M = {}

---@param cmd string[]
---@return string[] argv for `nextword SUBCOMMAND ...`, from the server command
local function cli_argv(cmd, ...)
  local argv = {}
  -- The server command ends with `serve` (plus extra args); the CLI is everything before it.
  for _, part in ipairs(cmd) do
    if part == 'serve' then
      break
    end
    table.insert(argv, part)
  end
  vim.list_extend(argv, { ... })
  return argv
end

---@param argv string[]
---@return vim.SystemCompleted
local function run(argv)
  local ok, result = pcall(function()
    return vim.system(argv, { text = true }):wait(20000)
  end)
  if not ok then
    return { code = -1, signal = 0, stdout = '', stderr = tostring(result) }
  end
  return result
end

local function check_neovim()
  if vim.fn.has('nvim-0.11') == 1 then
    vim.health.ok('Neovim ' .. tostring(vim.version()))
  else
    vim.health.error('Neovim 0.11 or newer is needed (vim.lsp.config, vim.lsp.enable)')
  end
end

---@param cmd string[]
---@return boolean
local function check_executable(cmd)
  local path = vim.fn.exepath(cmd[1])
  if path == '' then
    vim.health.error(('`%s` not found'):format(cmd[1]), {
      'pip install nextword',
      "or pass cmd = { '/path/to/nextword', 'serve' } (or python = '/path/to/python') to setup()",
    })
    return false
  end
  vim.health.ok(('server command: %s'):format(table.concat(cmd, ' ')))
  local version = run(cli_argv(cmd, '--version'))
  if version.code == 0 then
    vim.health.ok(vim.trim(version.stdout))
  else
    vim.health.error('`--version` failed: ' .. vim.trim(version.stderr or ''))
    return false
  end
  return true
end

---@param cmd string[]
---@param bundle string?
local function check_bundle(cmd, bundle)
  local argv = cli_argv(cmd, 'info', '--json')
  if type(bundle) == 'string' and bundle ~= '' then
    vim.list_extend(argv, { '--bundle', bundle })
  end
  local info = run(argv)
  if info.code ~= 0 then
    vim.health.error('model bundle does not load: ' .. vim.trim(info.stderr or ''), {
      'run `nextword info` for details',
      'reinstall nextword, or set settings.bundle to a bundle written by `nextword export`',
    })
    return
  end
  local ok, summary = pcall(vim.json.decode, info.stdout)
  if not ok or type(summary) ~= 'table' then
    vim.health.error('`nextword info --json` printed no JSON: ' .. info.stdout)
    return
  end
  if summary.verified then
    local manifest = summary.manifest or {}
    local vocab = manifest.vocab or {}
    vim.health.ok(
      ('model bundle %s verifies (%s words, %.1f MB)'):format(
        summary.path,
        tostring(vocab.n_words or vocab.size or '?'),
        (summary.total_bytes or 0) / 1e6
      )
    )
  else
    vim.health.error('model bundle ' .. tostring(summary.path) .. ' does not verify')
  end
end

local function check_clients()
  local nextword = require('nextword')
  local clients = vim.lsp.get_clients({ name = 'nextword' })
  if #clients == 0 then
    vim.health.info('no nextword client running (open a Markdown or text file to start one)')
  end
  for _, client in ipairs(clients) do
    vim.health.ok(('client %d running, attached to %d buffer(s)'):format(
      client.id,
      vim.tbl_count(client.attached_buffers)
    ))
  end
  local plugin = nextword.completion_plugin()
  if nextword.use_builtin_completion(nextword.options) then
    vim.health.ok('completion: built-in (vim.lsp.completion, autotrigger)')
  elseif plugin then
    vim.health.ok(('completion: through %s (add the LSP source there)'):format(plugin))
  else
    vim.health.info('completion: built-in completion is off (completion.enable = false)')
  end
end

function M.check()
  local nextword = require('nextword')
  local options = nextword.options
  vim.health.start('nextword')
  check_neovim()
  local cmd = nextword.server_cmd(options)
  if check_executable(cmd) then
    check_bundle(cmd, options.settings.bundle)
  end
  check_clients()
end

return M

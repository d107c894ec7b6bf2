-- Base configuration for the nextword language server (Neovim 0.11+).
-- Used as is by `vim.lsp.enable('nextword')`; `require('nextword').setup(opts)` layers the
-- user's options on top of it with `vim.lsp.config('nextword', ...)`.

--- Neovim filetypes whose LSP language id differs from the filetype's name.
local LANGUAGE_IDS = {
  text = 'plaintext',
  tex = 'latex',
  plaintex = 'latex',
  rst = 'restructuredtext',
  gitcommit = 'git-commit',
}

---@type vim.lsp.Config
return {
  cmd = { 'nextword', 'serve' },
  filetypes = { 'text', 'markdown', 'tex', 'plaintex', 'rst', 'gitcommit', 'asciidoc' },
  -- Prose has no project file: without a .git the client runs rootless (single-file mode).
  root_markers = { '.git' },
  get_language_id = function(_, filetype)
    return LANGUAGE_IDS[filetype] or filetype
  end,
  init_options = { nextword = {} },
  settings = { nextword = {} },
}

-- Ghost text (inline completion) keys: accept the whole suggestion, or only its next word.
local M = {}

--- `text` up to the end of its next word after the first `typed` bytes (the part of the word
--- already typed, which the suggestion starts with); the spaces before that word come with it.
---@param text string
---@param typed integer
---@return string
function M.through_next_word(text, typed)
  local rest = text:sub(typed + 1)
  return text:sub(1, typed) .. (rest:match('^%s*%S+') or rest)
end

--- Insert the next word of the ghost text shown in the buffer (as "Accept Next Word" does in
--- VS Code); the rest is asked for again and shown. Returns false when no ghost text is shown.
---@param bufnr integer?
---@return boolean
function M.accept_word(bufnr)
  local buf = vim._resolve_bufnr(bufnr)
  return vim.lsp.inline_completion.get({
    bufnr = buf,
    on_accept = function(item)
      local range, text = item.range, item.insert_text
      if type(text) ~= 'string' or not range or range.start.row ~= range.end_.row then
        return -- nextword's ghost text is plain text over the typed part of one line
      end
      local row, col = range.start.row, range.start.col
      local typed = vim.api.nvim_buf_get_text(buf, row, col, row, range.end_.col, {})[1]
      local insert = M.through_next_word(text, #typed)
      vim.api.nvim_buf_set_text(buf, row, col, row, range.end_.col, { insert })
      vim.api.nvim_win_set_cursor(vim.fn.bufwinid(buf), { row + 1, col + #insert })
    end,
  })
end

--- Accept the whole ghost text shown in the buffer; false when none is shown.
---@param bufnr integer?
---@return boolean
function M.accept(bufnr)
  return vim.lsp.inline_completion.get({ bufnr = vim._resolve_bufnr(bufnr) })
end

--- Buffer-local insert-mode keys for `accept` and `accept_word` ({ accept = lhs|false,
--- accept_word = lhs|false }); where no ghost text is shown a key does what it did before.
---@param bufnr integer
---@param keys { accept: string|false?, accept_word: string|false? }
function M.map_keys(bufnr, keys)
  for name, accept in pairs({ accept = M.accept, accept_word = M.accept_word }) do
    local lhs = keys[name]
    if lhs then
      vim.keymap.set('i', lhs, function()
        if not accept(bufnr) then
          return lhs
        end
      end, { buffer = bufnr, expr = true, desc = 'nextword: ' .. name:gsub('_', ' ') })
    end
  end
end

return M

-- Neovim test, run with `nvim --clean --headless -c 'luafile nvim_inline_word.lua'` (insert mode
-- needs the main loop, driven by timers): with `completion.inline`, the ghost text after "the
-- President of the Uni" is a phrase ("United States"), and the `accept_word` key (<M-Right>)
-- inserts it one word at a time: the rest of the current word, then the next word.
local t = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)), 'nvim_common.lua'))

vim.o.showmode = false
vim.opt.shortmess:append('c')

-- A generous time budget: the phrase must not depend on how busy the machine is.
local bufnr = t.open_with_inline({ inline = { budget_ms = 1000 } })

local feed, when = t.feed, t.when

local typed = 'We thank the President of the Uni'
--- The line once the accept_word key inserts the next word of `ghost` shown after `line`.
local function after_word(line, ghost)
  return line .. ghost:match('^%s*%S+')
end

local function finish(line)
  vim.cmd.stopinsert()
  vim.schedule(function()
    vim.cmd.write()
    local on_disk = table.concat(vim.fn.readfile(t.test_file), '\n')
    if not on_disk:find(line, 1, true) then
      t.fail('the saved file lacks the accepted words:\n' .. on_disk)
    end
    t.pass(('accepted word by word: "%s"'):format(line))
  end)
end

--- Wait for ghost text after `line`, press <M-Right>, check that one word came in; `more` more.
local function accept_words(line, more)
  when('ghost text after "' .. line .. '"', function()
    if vim.api.nvim_get_current_line() == line then
      return t.ghost_text(bufnr)
    end
  end, function(ghost)
    t.log(('ghost text after "%s": "%s"'):format(line, ghost))
    local expected = after_word(line, ghost)
    if line == typed and expected == line .. ghost then
      t.fail('the ghost text is one word, nothing to accept word by word: "' .. ghost .. '"')
    end
    feed('<M-Right>')
    when('one word accepted: "' .. expected .. '"', function()
      local now = vim.api.nvim_get_current_line()
      if now ~= line then
        return now
      end
    end, function(now)
      if now ~= expected then
        t.fail(('<M-Right> gave "%s", not "%s"'):format(now, expected))
      end
      t.log('accepted: ' .. now)
      if more > 0 then
        accept_words(now, more - 1)
      else
        finish(now)
      end
    end)
  end)
end

feed('Go' .. typed)
accept_words(typed, 1)

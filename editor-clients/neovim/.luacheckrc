-- luacheck configuration for the Neovim plugin and its tests.
std = 'luajit'
globals = { 'vim' }
max_line_length = 120

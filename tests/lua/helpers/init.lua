-- Shared helpers for the specs (loaded by busted before every spec file).
-- Specs `require "helpers.sh"` etc. through lpath ./tests/lua/?.lua.
return true

-- helpers.gitfix: real git repositories built with the git CLI, for the
-- specs of schedtest.git (the product itself uses libgit2 only).
local fs = require "schedtest.fs"
local shh = require "helpers.sh"

local M = {}

M.q = shh.quote

-- Environment that makes commits reproducible and ignores the user's
-- configuration.
local ENV = "GIT_CONFIG_NOSYSTEM=1 HOME=/nonexistent XDG_CONFIG_HOME=/nonexistent " ..
  "GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com " ..
  "GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com " ..
  "GIT_AUTHOR_DATE='2026-01-01T00:00:00Z' GIT_COMMITTER_DATE='2026-01-01T00:00:00Z' "

--- Run a shell command in `dir`; returns its stdout (trailing newline
-- stripped); raises with stderr when it fails.
function M.sh(dir, cmd)
  local tmp = assert(fs.tempdir("schedtest-gitfix-"))
  local full = "cd " .. M.q(dir) .. " && (export " .. ENV .. "; " .. cmd ..
    ") >" .. tmp .. "/out 2>" .. tmp .. "/err"
  local ok = os.execute(full)
  local out = fs.read_file(tmp .. "/out") or ""
  local err = fs.read_file(tmp .. "/err") or ""
  fs.remove_tree(tmp)
  if not ok then error("command failed: " .. cmd .. "\n" .. err, 2) end
  return (out:gsub("\n$", ""))
end

--- Write `text` to dir/path (creating parent directories).
function M.write(dir, path, text)
  local full = dir .. "/" .. path
  local parent = full:match("^(.*)/[^/]*$")
  assert(fs.mkdir_p(parent))
  local f = assert(io.open(full, "w"))
  f:write(text)
  f:close()
end

--- A new empty repository on branch main in a fresh temp directory.
function M.init()
  local dir = assert(fs.tempdir("schedtest-git-"))
  M.sh(dir, "git init -q -b main . && git config commit.gpgsign false")
  return dir
end

--- main: c1 -- c2 -- c3(main);  feature from c2: f1 -- f2(feature,
-- checked out).  Returns dir and a table of commit ids.  Built once per
-- process (commits are reproducible) and copied for every caller.
local template, template_ids
function M.branches()
  if not template then template, template_ids = M.build_branches() end
  local dir = assert(fs.tempdir("schedtest-git-"))
  M.sh(dir, "cp -a " .. M.q(template) .. "/. .")
  local ids = {}
  for k, v in pairs(template_ids) do ids[k] = v end
  return dir, ids
end

--- Remove the template of M.branches (call from a spec's teardown).
function M.cleanup_template()
  if template then fs.remove_tree(template) end
  template, template_ids = nil, nil
end

function M.build_branches()
  local dir = M.init()
  local ids = {}
  M.write(dir, "a.txt", "one\n")
  M.write(dir, "src/b.c", "int b;\n")
  M.sh(dir, "git add -A && git commit -qm c1")
  ids.c1 = M.sh(dir, "git rev-parse HEAD")
  M.write(dir, "a.txt", "two\n")
  M.sh(dir, "git commit -qam c2")
  ids.c2 = M.sh(dir, "git rev-parse HEAD")
  M.write(dir, "main-only.txt", "m\n")
  M.sh(dir, "git add -A && git commit -qm c3")
  ids.c3 = M.sh(dir, "git rev-parse HEAD")
  M.sh(dir, "git checkout -q -b feature " .. ids.c2)
  M.write(dir, "src/b.c", "int b = 1;\n")
  M.sh(dir, "git commit -qam f1")
  ids.f1 = M.sh(dir, "git rev-parse HEAD")
  M.write(dir, "feature.txt", "f\n")
  M.sh(dir, "git add -A && git commit -qm f2")
  ids.f2 = M.sh(dir, "git rev-parse HEAD")
  return dir, ids
end

function M.short(id) return id:sub(1, 7) end

function M.cleanup(dir)
  if dir then fs.remove_tree(dir) end
end

return M

-- schedtest.git on real repositories built with the git CLI.
local git = require "schedtest.git"
local fs = require "schedtest.fs"
local fix = require "helpers.gitfix"
local shh = require "helpers.sh"

local sh, write, q = fix.sh, fix.write, fix.q

-- Run Lua code in a child schedtest (for environment variables and
-- signals); returns {code=, out=, err=}.
local SCHEDTEST = assert(fs.realpath(shh.schedtest))
local function child(code, env, cwd)
  return shh.run({ SCHEDTEST, "-e", code }, { env = env, cwd = cwd })
end

local function exists(path) return fs.stat(path, false) ~= nil end

describe("schedtest.git", function()
  local dirs = {}
  local function track(d) dirs[#dirs + 1] = d; return d end
  after_each(function()
    for _, d in ipairs(dirs) do fix.cleanup(d) end
    dirs = {}
  end)
  teardown(function() fix.cleanup_template() end)

  describe("open", function()
    it("says when a directory is not inside a repository", function()
      local d = track(assert(fs.tempdir("schedtest-norepo-")))
      local r, msg, code = git.open(d)
      assert.is_nil(r)
      assert.are.equal("EGITREPO", code)
      assert.matches("not inside a git repository", msg, 1, true)
    end)

    it("walks up from a subdirectory", function()
      local d = track(fix.branches())
      local r <close> = assert(git.open(d .. "/src"))
      assert.are.equal(fs.realpath(d) .. "/", r:workdir())
    end)

    it("raises on a closed handle", function()
      local d = track(fix.branches())
      local r = assert(git.open(d))
      r:close()
      r:close() -- idempotent
      assert.has_error(function() r:head_label() end,
                       "attempt to use a closed schedtest.Repo")
    end)
  end)

  describe("head_label", function()
    it("is the 7-hex HEAD, -dirty only for tracked changes", function()
      local d = track(fix.branches())
      local short = sh(d, "git rev-parse --short=7 HEAD")
      local r <close> = assert(git.open(d))
      local label, full = r:head_label()
      assert.are.equal(short, label)
      assert.are.equal(sh(d, "git rev-parse HEAD"), full)

      write(d, ".gitignore", "*.o\n")
      sh(d, "git add .gitignore && git commit -qm ignore")
      short = sh(d, "git rev-parse --short=7 HEAD")
      write(d, "new-untracked.txt", "u\n")
      write(d, "x.o", "ignored\n")
      assert.are.equal(short, (r:head_label()))

      write(d, "a.txt", "unstaged change\n")
      assert.are.equal(short .. "-dirty", (r:head_label()))
      sh(d, "git add a.txt")
      assert.are.equal(short .. "-dirty", (r:head_label())) -- staged only
      sh(d, "git reset -q --hard")
      assert.are.equal(short, (r:head_label()))
      sh(d, "rm feature.txt")
      assert.are.equal(short .. "-dirty", (r:head_label())) -- deleted
    end)

    it("works on a detached HEAD", function()
      local d, ids = fix.branches()
      track(d)
      sh(d, "git checkout -q --detach " .. ids.f1)
      local r <close> = assert(git.open(d))
      assert.are.equal(fix.short(ids.f1), (r:head_label()))
      local b = assert(r:resolve_baseline { github_base_ref = false })
      assert.are.equal(ids.f1, b.head)
      assert.are.equal(ids.c2, b.commit)
    end)

    it("gives nil and a reason on an unborn HEAD", function()
      local d = track(fix.init())
      local r <close> = assert(git.open(d))
      local l, msg, code = r:head_label()
      assert.is_nil(l)
      assert.are.equal("EGITUNBORN", code)
      assert.matches("no commit yet", msg, 1, true)
    end)

    it("takes SCHEDTEST_PROJECT_COMMIT / KTSTR_PROJECT_COMMIT verbatim",
       function()
      local d = track(fix.branches())
      local code = [[local g = require "schedtest.git"
        local r = assert(g.open("."))
        print(r:head_label(), (r:head_label{env=false}), g.project_commit("."))]]
      local res = child(code, { SCHEDTEST_PROJECT_COMMIT = "my label" }, d)
      assert.are.equal(0, res.code, res.err)
      local short = sh(d, "git rev-parse --short=7 HEAD")
      assert.are.equal("my label\t" .. short .. "\tmy label\n", res.out)
      res = child(code, { KTSTR_PROJECT_COMMIT = "kt-1" }, d)
      assert.are.equal("kt-1\t" .. short .. "\tkt-1\n", res.out)
    end)

    it("matches git for this project's own checkout", function()
      local r <close> = assert(git.open("."))
      local want = sh(".", "git rev-parse --short=7 HEAD")
      if sh(".", "git status --untracked-files=no --porcelain") ~= "" then
        want = want .. "-dirty"
      end
      assert.are.equal(want, (r:head_label { env = false }))
    end)
  end)

  describe("resolve_baseline", function()
    it("follows --base, --base-ref, GITHUB_BASE_REF, default branch",
       function()
      local d, ids = fix.branches()
      track(d)
      local r <close> = assert(git.open(d))
      local b = assert(r:resolve_baseline { github_base_ref = false })
      assert.are.equal(ids.c2, b.commit)
      assert.are.equal(fix.short(ids.c2), b.label)
      assert.are.equal(fix.short(ids.f2), b.head_label)
      assert.are.equal("merge-base(HEAD, main)", b.how)
      assert.are.equal("default_branch", b.source)

      b = assert(r:resolve_baseline { base = ids.c3, base_ref = "main" })
      assert.are.equal(ids.c3, b.commit)
      assert.are.equal("explicit --base " .. ids.c3, b.how)
      b = assert(r:resolve_baseline { base = "^main~2" })
      assert.are.equal(ids.c1, b.commit)

      b = assert(r:resolve_baseline { base_ref = ids.c1 })
      assert.are.equal(ids.c1, b.commit)
      assert.are.equal("base_ref", b.source)

      sh(d, "git branch -q trunk " .. ids.c1)
      b = assert(r:resolve_baseline { default_branch = "trunk",
                                      github_base_ref = false })
      assert.are.equal(ids.c1, b.commit)
      assert.are.equal("merge-base(HEAD, trunk)", b.how)
    end)

    it("uses origin/$GITHUB_BASE_REF", function()
      local up, ids = fix.branches()
      track(up)
      local d = track(assert(fs.tempdir("schedtest-clone-")))
      sh(d, "git clone -q file://" .. up .. " c && cd c && " ..
            "git checkout -q feature")
      sh(up, "git branch -q release " .. ids.c1)
      sh(d .. "/c", "git fetch -q origin")
      local r <close> = assert(git.open(d .. "/c"))
      local b = assert(r:resolve_baseline { github_base_ref = "release" })
      assert.are.equal(ids.c1, b.commit)
      assert.are.equal("github_base_ref", b.source)
      assert.matches("origin/release", b.how, 1, true)
      -- from the environment, as in GitHub Actions
      local res = child([[local r = assert(require"schedtest.git".open("."))
        local b = assert(r:resolve_baseline{}) print(b.commit, b.how)]],
        { GITHUB_BASE_REF = "release" }, d .. "/c")
      assert.are.equal(0, res.code, res.err)
      assert.matches("^" .. ids.c1 .. "\tmerge%-base%(HEAD, origin/release%)",
                     res.out)
    end)

    it("refuses a baseline that resolves to HEAD", function()
      local d, ids = fix.branches()
      track(d)
      local r <close> = assert(git.open(d))
      local b, msg, code = r:resolve_baseline { base = "HEAD" }
      assert.is_nil(b)
      assert.are.equal("EGITSAME", code)
      assert.matches("resolves to HEAD — nothing to compare", msg, 1, true)
      assert.is_false(assert(r:resolve_baseline { base = ids.f1 })
                        .worktree_only)
      -- dirty HEAD: the work tree is compared against HEAD itself
      write(d, "a.txt", "dirty\n")
      b = assert(r:resolve_baseline { base = ids.f2 })
      assert.are.equal(fix.short(ids.f2), b.label)
      assert.are.equal(fix.short(ids.f2) .. "-dirty", b.head_label)
      assert.is_true(b.worktree_only)
      assert.matches("comparing the work tree's uncommitted changes", b.how,
                     1, true)
      b = assert(r:resolve_baseline { base = ids.f1 })
      assert.is_false(b.worktree_only)
      assert.are.equal(fix.short(ids.f2) .. "-dirty", b.head_label)
      assert.are.equal(fix.short(ids.f1), b.label)
    end)

    it("names an unknown ref", function()
      local d = track(fix.branches())
      local r <close> = assert(git.open(d))
      local _, msg, code = r:resolve_baseline { base_ref = "no-such-branch" }
      assert.are.equal("EGITREF", code)
      assert.matches("no-such-branch", msg, 1, true)
      _, _, code = r:resolve_baseline { base = "deadbeef1234" }
      assert.are.equal("EGITREF", code)
      _, msg, code = r:resolve_baseline { default_branch = "nope",
                                          github_base_ref = false }
      assert.are.equal("EGITREF", code)
      assert.matches("default branch 'nope' not found", msg, 1, true)
    end)

    it("says when there is no common ancestor", function()
      local d = track(fix.branches())
      sh(d, "git checkout -q --orphan lonely && git commit -qm alone")
      local r <close> = assert(git.open(d))
      local b, msg, code = r:resolve_baseline { base_ref = "main" }
      assert.is_nil(b)
      assert.are.equal("EGITNOBASE", code)
      assert.matches("no common ancestor", msg, 1, true)
    end)

    it("tells a shallow clone to fetch the full history", function()
      local up = track(fix.branches())
      local d = track(assert(fs.tempdir("schedtest-shallow-")))
      sh(d, "git clone -q --depth 1 --no-single-branch file://" .. up ..
            " c && cd c && git checkout -q feature")
      local r <close> = assert(git.open(d .. "/c"))
      local b, msg, code = r:resolve_baseline { base_ref = "origin/main" }
      assert.is_nil(b)
      assert.are.equal("EGITSHALLOW", code)
      assert.matches("fetch-depth: 0", msg, 1, true)
      assert.matches("shallow", msg, 1, true)
    end)

    it("rejects unknown options", function()
      local d = track(fix.branches())
      local r <close> = assert(git.open(d))
      assert.has_error(function() r:resolve_baseline { bsae = "x" } end)
    end)
  end)

  describe("snapshot", function()
    it("captures staged, unstaged, untracked, deletions and renames " ..
       "without touching the repository", function()
      local d = track(fix.branches())
      write(d, ".gitignore", "*.o\n")
      write(d, "exec.sh", "#!/bin/sh\n")
      sh(d, "chmod +x exec.sh && ln -s a.txt link && git add -A && " ..
            "git commit -qm more")
      write(d, "a.txt", "staged\n")
      sh(d, "git add a.txt")
      write(d, "a.txt", "staged then unstaged\n")
      write(d, "new/untracked.txt", "new\n")
      write(d, "junk.o", "ignored\n")
      sh(d, "git rm -q feature.txt && git mv src/b.c src/renamed.c")
      write(d, "src/renamed.c", "renamed, then changed\n")
      sh(d, "rm exec.sh")

      local before = {
        head = sh(d, "git rev-parse HEAD"),
        index = fs.read_file(d .. "/.git/index"),
        status = sh(d, "git status --porcelain"),
        refs = sh(d, "git for-each-ref"),
        stash = sh(d, "git stash list"),
      }
      -- What `git add -A && git write-tree` would give, on a copy.
      local idx = track(assert(fs.tempdir("schedtest-idx-"))) .. "/index"
      local want = sh(d, "cp .git/index " .. q(idx) .. " && GIT_INDEX_FILE=" ..
                         q(idx) .. " sh -c 'git add -A && git write-tree'")

      local r <close> = assert(git.open(d))
      local tree, n = r:snapshot()
      assert.are.equal(want, tree)
      assert.is_true(n >= 5)
      assert.are.equal(before.head, sh(d, "git rev-parse HEAD"))
      assert.are.equal(before.index, fs.read_file(d .. "/.git/index"))
      assert.are.equal(before.status, sh(d, "git status --porcelain"))
      assert.are.equal(before.refs, sh(d, "git for-each-ref"))
      assert.are.equal(before.stash, sh(d, "git stash list"))
      -- the tree holds the work-tree content, not the ignored file
      assert.are.equal("staged then unstaged",
                       sh(d, "git cat-file -p " .. tree .. ":a.txt"))
      assert.are.equal("new", sh(d, "git cat-file -p " .. tree ..
                                    ":new/untracked.txt"))
      assert.has_error(function() sh(d, "git cat-file -e " .. tree .. ":junk.o") end)
      assert.has_error(function() sh(d, "git cat-file -e " .. tree .. ":exec.sh") end)
    end)

    it("of a clean tree is HEAD's tree", function()
      local d = track(fix.branches())
      local r <close> = assert(git.open(d))
      local tree, n = r:snapshot()
      assert.are.equal(sh(d, "git rev-parse HEAD^{tree}"), tree)
      assert.are.equal(0, n)
    end)
  end)

  describe("checkout", function()
    local function repo_with_modes()
      local d = fix.branches()
      write(d, "bin/run.sh", "#!/bin/sh\necho hi\n")
      sh(d, "chmod 755 bin/run.sh && ln -s ../a.txt bin/link && " ..
            "ln -s /etc/passwd abs-link && git add -A && git commit -qm modes")
      -- a submodule entry (gitlink) whose commit is not in this repo
      sh(d, "git update-index --add --cacheinfo " ..
            "160000,1111111111111111111111111111111111111111,vendor/sub && " ..
            "git commit -qm sub")
      return d
    end

    it("writes files, modes and links with no .git; close removes it",
       function()
      local d = track(repo_with_modes())
      local out = track(assert(fs.tempdir("schedtest-co-test-")))
      local dir = out .. "/co-HEAD"
      local r <close> = assert(git.open(d))
      local co = assert(r:checkout("HEAD", dir))
      assert.are.equal(dir, co:path())
      assert.are.equal(sh(d, "git rev-parse HEAD^{tree}"), co:tree())
      assert.are.same({ "vendor/sub" }, co:skipped())
      assert.is_false(exists(dir .. "/.git"))
      assert.is_true(exists(dir .. ".lock"))
      assert.are.equal("#!/bin/sh\necho hi\n", fs.read_file(dir .. "/bin/run.sh"))
      assert.are.equal(tonumber("755", 8) & ~tonumber(sh(d, "umask"), 8),
                       fs.stat(dir .. "/bin/run.sh").mode & tonumber("777", 8))
      assert.are.equal(0, fs.stat(dir .. "/a.txt").mode & tonumber("111", 8))
      assert.are.equal("link", fs.stat(dir .. "/bin/link", false).type)
      assert.are.equal("../a.txt", sh(dir, "readlink bin/link"))
      assert.are.equal("/etc/passwd", sh(dir, "readlink abs-link"))
      assert.are.equal("directory", fs.stat(dir .. "/vendor/sub").type)
      -- same content as git archive
      sh(out, "mkdir ref && git -C " .. q(d) .. " archive HEAD | tar -x -C ref")
      sh(out, "diff -r --no-dereference ref co-HEAD")
      assert.are.equal(6, co:files())
      assert.is_true(co:close())
      assert.is_true(co:close()) -- idempotent
      assert.is_false(exists(dir))
      assert.is_false(exists(dir .. ".lock"))
      assert.has_error(function() co:path() end,
                       "attempt to use a closed schedtest.Checkout")
    end)

    it("removes the checkout at the end of a <close> scope, also on error",
       function()
      local d = track(fix.branches())
      local out = track(assert(fs.tempdir("schedtest-co-test-")))
      local dir = out .. "/co"
      local ok, err = pcall(function()
        local r <close> = assert(git.open(d))
        local co <close> = assert(r:checkout("main", dir))
        assert(exists(dir .. "/main-only.txt"))
        error("boom")
      end)
      assert.is_false(ok)
      assert.matches("boom", err)
      assert.is_false(exists(dir))
      assert.is_false(exists(dir .. ".lock"))
    end)

    it("checks out a snapshot tree", function()
      local d = track(fix.branches())
      local out = track(assert(fs.tempdir("schedtest-co-test-")))
      write(d, "a.txt", "dirty\n")
      write(d, "untracked.txt", "u\n")
      local r <close> = assert(git.open(d))
      local tree = assert(r:snapshot())
      local co <close> = assert(r:checkout(tree, out .. "/snap"))
      assert.are.equal("dirty\n", fs.read_file(out .. "/snap/a.txt"))
      assert.are.equal("u\n", fs.read_file(out .. "/snap/untracked.txt"))
    end)

    it("fails cleanly on an unknown ref and leaves nothing", function()
      local d = track(fix.branches())
      local out = track(assert(fs.tempdir("schedtest-co-test-")))
      local r <close> = assert(git.open(d))
      local co, msg, code = r:checkout("no-such-ref", out .. "/x")
      assert.is_nil(co)
      assert.are.equal("EGITREF", code)
      assert.matches("no-such-ref", msg, 1, true)
      assert.are.same({}, fs.list(out))
    end)

    it("refuses a tree with a .git entry", function()
      local d = track(fix.branches())
      local out = track(assert(fs.tempdir("schedtest-co-test-")))
      local tree = sh(d, "b=$(git hash-object -w a.txt) && " ..
        "printf '100644 blob %s\\t.git\\n100644 blob %s\\tok\\n' $b $b | git mktree")
      local r <close> = assert(git.open(d))
      local co, msg, code = r:checkout(tree, out .. "/x")
      assert.is_nil(co)
      assert.are.equal("EGIT", code)
      assert.matches("unsafe entry '.git'", msg, 1, true)
      assert.are.same({}, fs.list(out))
    end)

    it("never deletes a target that is not ours", function()
      local d = track(fix.branches())
      local out = track(assert(fs.tempdir("schedtest-co-test-")))
      write(out, "mine/precious.txt", "keep\n")
      local r <close> = assert(git.open(d))
      local co, msg, code = r:checkout("HEAD", out .. "/mine")
      assert.is_nil(co)
      assert.are.equal("EEXIST", code)
      assert.matches("not a schedtest checkout", msg, 1, true)
      assert.are.equal("keep\n", fs.read_file(out .. "/mine/precious.txt"))
      assert.is_false(exists(out .. "/mine.lock"))
      -- a foreign lock file is not ours either
      write(out, "other.lock", "someone else's\n")
      co, msg, code = r:checkout("HEAD", out .. "/other")
      assert.are.equal("EEXIST", code)
      assert.are.equal("someone else's\n", fs.read_file(out .. "/other.lock"))
      assert.is_false(exists(out .. "/other"))
    end)

    it("makes a concurrent checkout of the same directory fail or wait",
       function()
      local d = track(fix.branches())
      local out = track(assert(fs.tempdir("schedtest-co-test-")))
      local dir = out .. "/co"
      -- A child holds the checkout until the file `release` appears.
      local code = string.format([[
        local git = require "schedtest.git"
        local r = assert(git.open(%q))
        local co <close> = assert(r:checkout("main", %q))
        io.open(%q, "w"):close()
        while not io.open(%q) do os.execute("sleep 0.05") end
        io.open(%q .. "/child-saw", "w"):write(co:tree()):close()
      ]], d, dir, out .. "/held", out .. "/release", out)
      local cmd = q(SCHEDTEST) .. " -e " .. q(code) ..
        " >" .. q(out .. "/child.log") .. " 2>&1 &"
      assert(os.execute(cmd))
      for _ = 1, 200 do
        if exists(out .. "/held") then break end
        os.execute("sleep 0.05")
      end
      assert.is_true(exists(out .. "/held"))
      local r <close> = assert(git.open(d))
      local co, msg, ecode = r:checkout("main", dir)
      assert.is_nil(co)
      assert.are.equal("EBUSY", ecode)
      assert.matches("another schedtest run is using the checkout", msg, 1, true)
      assert.is_true(exists(dir .. "/main-only.txt")) -- untouched
      -- Now wait for it: release the child, which removes its checkout.
      io.open(out .. "/release", "w"):close()
      local co2 <close> = assert(r:checkout("main", dir, { wait = true }))
      assert.are.equal("m\n", fs.read_file(dir .. "/main-only.txt"))
      assert.is_true(exists(out .. "/child-saw"))
      assert.is_true(exists(dir .. ".lock"))
    end)

    it("is removed when Ctrl-C interrupts the script", function()
      local d = track(fix.branches())
      local out = track(assert(fs.tempdir("schedtest-co-test-")))
      local dir = out .. "/co"
      local code = string.format([[
        local r = assert(require("schedtest.git").open(%q))
        local co <close> = assert(r:checkout("main", %q))
        io.open(%q, "w"):close()
        while true do end
      ]], d, dir, out .. "/held")
      local res = shh.run({ "sh", "-c",
        q(SCHEDTEST) .. " -e " .. q(code) .. " & pid=$!; " ..
        "i=0; while [ ! -e " .. q(out .. "/held") .. " ] && [ $i -lt 200 ]; " ..
        "do sleep 0.05; i=$((i+1)); done; kill -INT $pid; wait $pid" })
      assert.are_not.equal(0, res.code)
      assert.matches("interrupted", res.err)
      assert.is_true(exists(out .. "/held"))
      assert.is_false(exists(dir))
      assert.is_false(exists(dir .. ".lock"))
    end)
    it("stops waiting for a busy lock on Ctrl-C", function()
      local d = track(fix.branches())
      local out = track(assert(fs.tempdir("schedtest-co-test-")))
      local dir = out .. "/co"
      local r <close> = assert(git.open(d))
      local held <close> = assert(r:checkout("main", dir))
      local code = string.format([[
        local r = assert(require("schedtest.git").open(%q))
        io.open(%q, "w"):close()
        local co <close> = assert(r:checkout("main", %q, { wait = true }))
        print("got the lock")
      ]], d, out .. "/waiting", dir)
      local res = shh.run({ "sh", "-c",
        q(SCHEDTEST) .. " -e " .. q(code) .. " & pid=$!; " ..
        "i=0; while [ ! -e " .. q(out .. "/waiting") .. " ] && [ $i -lt 200 ]; " ..
        "do sleep 0.05; i=$((i+1)); done; sleep 0.2; kill -INT $pid; wait $pid" })
      assert.are_not.equal(0, res.code)
      assert.matches("interrupted", res.err)
      assert.are.equal("", res.out)
      assert.are.equal("m\n", fs.read_file(dir .. "/main-only.txt"))
      assert.is_true(held:close())
      assert.is_false(exists(dir))
    end)
  end)

  describe("sweep", function()
    it("removes stale checkouts only", function()
      local d = track(fix.branches())
      local out = track(assert(fs.tempdir("schedtest-sweep-")))
      -- A child that dies without cleaning up leaves a stale checkout.
      local res = child(string.format([[
        local r = assert(require("schedtest.git").open(%q))
        _G.keep = assert(r:checkout("main", %q))
        os.exit(0, false)]], d, out .. "/co-stale"))
      assert.are.equal(0, res.code, res.err)
      assert.is_true(exists(out .. "/co-stale/a.txt"))
      write(out, "co-foreign/file", "x")
      local r <close> = assert(git.open(d))
      local held <close> = assert(r:checkout("HEAD", out .. "/co-held"))
      assert.are.equal(1, git.sweep(out .. "/co-*"))
      assert.is_false(exists(out .. "/co-stale"))
      assert.is_false(exists(out .. "/co-stale.lock"))
      assert.is_true(exists(out .. "/co-foreign/file"))
      assert.is_true(exists(out .. "/co-held/a.txt"))
      assert.are.equal(0, git.sweep(out .. "/nothing-*"))
      -- a stale checkout of ours is also replaced by a new checkout
      child(string.format([[
        local r = assert(require("schedtest.git").open(%q))
        _G.keep = assert(r:checkout("main", %q))
        os.exit(0, false)]], d, out .. "/co-again"))
      local co <close> = assert(r:checkout(fix.sh(d, "git rev-parse HEAD"),
                                           out .. "/co-again"))
      assert.is_false(exists(out .. "/co-again/main-only.txt"))
    end)
  end)

  describe("changed_paths", function()
    it("lists paths between commits and in the work tree", function()
      local d, ids = fix.branches()
      track(d)
      local r <close> = assert(git.open(d))
      assert.are.same({ "feature.txt", "src/b.c" }, r:changed_paths("main~1"))
      assert.are.same({ "feature.txt", "main-only.txt", "src/b.c" },
                      r:changed_paths("main", "feature"))
      assert.are.same({}, r:changed_paths(ids.f2, "HEAD"))
      write(d, "a.txt", "changed\n")
      write(d, "new.txt", "new\n")
      sh(d, "git mv feature.txt renamed.txt")
      assert.are.same({ "a.txt", "feature.txt", "new.txt", "renamed.txt" },
                      r:changed_paths("HEAD", nil, { worktree = true }))
      local _, _, code = r:changed_paths("nope")
      assert.are.equal("EGITREF", code)
    end)
  end)
end)

-- schedtest.kernels: building and fetching guest kernels into the cache.
--
-- The C binding `schedtest.kernel` resolves and lists kernels; this module
-- holds the policy of how they get there (docs/kernels.md):
--
--   local kernels = require "schedtest.kernels"
--   local k = assert(kernels.build{ jobs = 2 })   -- sched_ext kernel
--   local d = assert(kernels.fetch_debian{})       -- Debian's kernel
--   print(k.path, k.version, k.sched_ext)
--
-- Both return the resolved kernel (the table of kernel.resolve) or
-- nil, message, code.  A cache hit returns at once.

local kernel = require "schedtest.kernel"
local fs = require "schedtest.fs"
local host = require "schedtest.host"

local io, os, string, table, math = io, os, string, table, math
local ipairs, pairs, tostring, tonumber, type = ipairs, pairs, tostring,
  tonumber, type

local M = {}

-- Bump when the build recipe (not the fragment) changes in a way that
-- changes the kernel: every cached build is then rebuilt.
M.RECIPE = 1

M.SOURCE_PACKAGE = "linux-source-6.12"
M.SOURCE_TARBALL = "/usr/src/linux-source-6.12.tar.xz"

-- Debian packages `kernel build` needs (also in the Makefile's
-- DEB_PACKAGES, so `make deps` installs them on a fresh machine).
M.BUILD_PACKAGES = {
  "linux-source-6.12", "dwarves", "clang-16", "llvm-16", "libelf-dev",
  "libssl-dev", "flex", "bison", "bc", "cpio", "zlib1g-dev", "libzstd-dev",
  "pkg-config", "build-essential", "xz-utils",
}

-- Modules of Debian's kernel the launcher may need; everything else it
-- uses (virtio-pci, virtio-console, 8250, pvpanic core) is built in.
M.DEBIAN_MODULES = {
  { name = "pvpanic", path = "kernel/drivers/misc/pvpanic/pvpanic.ko.xz",
    why = "common part of pvpanic-mmio/pvpanic-pci" },
  { name = "pvpanic-mmio",
    path = "kernel/drivers/misc/pvpanic/pvpanic-mmio.ko.xz",
    why = "`-device pvpanic` (ISA, ACPI QEMU0001): panic -> qemu exit 1" },
  { name = "pvpanic-pci",
    path = "kernel/drivers/misc/pvpanic/pvpanic-pci.ko.xz",
    why = "`-device pvpanic-pci`" },
  { name = "virtio_mmio", path = "kernel/drivers/virtio/virtio_mmio.ko.xz",
    why = "virtio devices on -M microvm" },
}

local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
M.quote = quote

-- Run a shell command; true on exit status 0.
local function run(cmd)
  local ok, how, code = os.execute(cmd)
  return ok == true and how == "exit" and code == 0
end

-- Output of a command (stderr discarded), and whether it succeeded.
local function capture(cmd)
  local p = io.popen(cmd .. " 2>/dev/null", "r")
  local out = p:read("a")
  local ok = p:close()
  return out, ok
end

local function say(opts, fmt, ...)
  if opts.quiet then return end
  io.stderr:write(string.format(fmt, ...), "\n")
end

local function fail(code, fmt, ...)
  return nil, string.format(fmt, ...), code
end

--- Installed version of a Debian package, or nil.
function M.package_version(name)
  local out = capture("dpkg-query -W -f '${db:Status-Status} ${Version}' " ..
                      quote(name))
  local status, version = out:match("^(%S+) (%S+)")
  if status == "installed" then return version end
  return nil
end

--- Install the missing packages of `list` with apt-get.
-- Returns true, or nil, msg, code when they cannot be installed.
function M.ensure_packages(list, opts)
  opts = opts or {}
  local missing = {}
  for _, p in ipairs(list) do
    if not M.package_version(p) then missing[#missing + 1] = p end
  end
  if #missing == 0 then return true end
  local names = table.concat(missing, " ")
  local sudo = ""
  if capture("id -u"):match("^%d+") ~= "0" then
    if not run("command -v sudo >/dev/null 2>&1") then
      return fail("ENOTSUP", "missing Debian packages: %s; run as root: " ..
                  "apt-get install %s", names, names)
    end
    sudo = "sudo "
  end
  say(opts, "kernel: installing %s", names)
  local q = {}
  for i, p in ipairs(missing) do q[i] = quote(p) end
  local cmd = sudo .. "env DEBIAN_FRONTEND=noninteractive apt-get install " ..
    "-y -qq --no-install-recommends " .. table.concat(q, " ")
  if not run(cmd .. " >&2") then
    -- A stale package list is the usual reason: update once and retry.
    run(sudo .. "apt-get update -qq >&2")
    if not run(cmd .. " >&2") then
      return fail("EIO", "apt-get install %s failed", names)
    end
  end
  return true
end

local function sha256_hex(data)
  local dir = assert(fs.tempdir("schedtest-hash-"))
  local f = dir .. "/d"
  assert(fs.write_atomic(f, data))
  local out = capture("sha256sum " .. quote(f))
  fs.remove_tree(dir)
  return out:match("^(%x+)")
end

--- Path of the config fragment kept in the repository.
function M.fragment_path()
  return host.root .. "/kernel/schedtest.config"
end

--- The 12-hex config hash naming a build: recipe version, source package
-- version and the fragment's exact bytes.
function M.config_hash(fragment, source_version)
  local text, msg, code = fs.read_file(fragment)
  if not text then return nil, msg, code end
  local h = sha256_hex(string.format("schedtest-kernel recipe %d\n%s\n%s",
                                     M.RECIPE, source_version or "?", text))
  return h:sub(1, 12)
end

local function cache_entry_with_suffix(suffix)
  for _, k in ipairs(kernel.list() or {}) do
    if k.name:sub(-#suffix) == suffix then return k end
  end
  return nil
end

local function nproc()
  return tonumber((capture("nproc"))) or 2
end

local function isatty()
  return host.isatty(2)
end

local function fmt_time(s)
  s = math.floor(s + 0.5)
  return string.format("%dm%02ds", s // 60, s % 60)
end

-- Run `cmd` (stdout+stderr), append every line to `log`, show progress:
-- compiled-file count against `estimate`, elapsed time, the current file.
local function run_logged(cmd, log, opts, estimate, label)
  local p = io.popen("(" .. cmd .. ") 2>&1", "r")
  local t0 = os.time()
  local n, last_pct, tty = 0, -1, not opts.quiet and isatty()
  for line in p:lines() do
    log:write(line, "\n")
    local what = line:match("^%s+[A-Z][A-Z0-9_]*%s+(%S+)")
    if what then
      n = n + 1
      local pct = estimate and math.min(99, n * 100 // estimate) or nil
      if tty then
        io.stderr:write(string.format("\r\27[K%s: %d files%s, %s  %s",
          label, n, pct and string.format(" (~%d%%)", pct) or "",
          fmt_time(os.time() - t0), what:sub(1, 50)))
      elseif not opts.quiet and pct and pct // 10 ~= last_pct // 10 then
        last_pct = pct
        say(opts, "%s: ~%d%% (%d files, %s)", label, pct, n,
            fmt_time(os.time() - t0))
      end
    end
  end
  log:flush()
  local ok = p:close()
  if tty then io.stderr:write("\r\27[K") end
  return ok, n
end

-- Extract the source tarball into `dir` unless the tree there is from the
-- same package version.
local function prepare_tree(build_root, src_version, opts)
  local tree = build_root .. "/" .. M.SOURCE_PACKAGE
  local stamp = tree .. "/.schedtest-source"
  if (fs.read_file(stamp) or "") == src_version then return tree end
  say(opts, "kernel: extracting %s", M.SOURCE_TARBALL)
  fs.remove_tree(tree)
  assert(fs.mkdir_p(build_root))
  if not run("tar -xf " .. quote(M.SOURCE_TARBALL) .. " -C " ..
             quote(build_root)) then
    return fail("EIO", "cannot extract %s into %s", M.SOURCE_TARBALL,
                build_root)
  end
  assert(fs.write_atomic(stamp, src_version))
  return tree
end

local function in_tree(tree, cmd)
  return "cd " .. quote(tree) .. " && " .. cmd
end

-- tinyconfig + kvm_guest.config + the fragment, unless already done.
local function configure(tree, fragment, hash, log, opts)
  local stamp = tree .. "/.schedtest-config"
  if (fs.read_file(stamp) or "") == hash and fs.stat(tree .. "/.config") then
    return true
  end
  say(opts, "kernel: configuring (tinyconfig + kvm_guest.config + %s)",
      fragment)
  local cmd = in_tree(tree, "make tinyconfig && " ..
    "scripts/kconfig/merge_config.sh -m .config " ..
    "kernel/configs/kvm_guest.config " .. quote(fragment) ..
    " && make olddefconfig")
  if not run_logged(cmd, log, { quiet = true }) then
    return fail("EIO", "kernel configuration failed; see the build log")
  end
  -- Every option the fragment asks for must have survived olddefconfig,
  -- or a dependency is missing and the kernel would silently lack it.
  local config = fs.read_file(tree .. "/.config")
  local lost = {}
  for line in fs.read_file(fragment):gmatch("[^\n]+") do
    local opt, val = line:match("^(CONFIG_[%w_]+)=(.*)$")
    if opt and val ~= "n" and
       not config:find("\n" .. opt .. "=" .. val .. "\n", 1, true) then
      lost[#lost + 1] = opt .. "=" .. val
    end
  end
  if #lost > 0 then
    return fail("EKERNEL", "the kernel config lacks %s after olddefconfig " ..
                "(a dependency is missing in %s)", table.concat(lost, " "),
                fragment)
  end
  assert(fs.write_atomic(stamp, hash))
  return true
end

local function copy(from, to)
  return run("cp -a " .. quote(from) .. " " .. quote(to))
end

-- Decompressors for a bzImage payload, by kernel.payload()'s format.
-- Except for gzip (whose trailer has it), the kernel's build appends the
-- uncompressed size as 4 bytes after the stream (scripts/Makefile.lib
-- size_append), which the tools would reject as trailing garbage.
local DECOMPRESS = {
  gzip = { "gzip -dc", 0 }, zstd = { "zstd -dcq", 4 }, xz = { "xz -dc", 4 },
  lzma = { "xz --format=lzma -dc", 4 }, bzip2 = { "bzip2 -dc", 4 },
  lz4 = { "lz4 -dc", 4 },
}

--- Give cache entry directory `dir` the vmlinux qemu boots instead of its
-- bzImage (st_kernel_pvh_entry): the bzImage's own payload, decompressed
-- once here instead of in the guest at every boot -- about 0.45 s (built)
-- and 0.7 s (Debian's) less per boot under TCG.  Written under a temporary
-- name and renamed, so a reader never sees half a file.  Returns true, or
-- false with the reason (the bzImage still boots, only slower).
function M.add_boot_vmlinux(dir)
  if fs.stat(dir .. "/vmlinux") then return true end
  local pl, msg = kernel.payload(dir .. "/bzImage")
  if not pl then return false, msg end
  local d = DECOMPRESS[pl.format]
  if not d then
    return false, "payload compressed as " .. pl.format
  end
  local tool = d[1]
  local tmp = string.format("%s/.vmlinux-%d-%d.tmp", dir, os.time(),
                            math.random(1, 1 << 30))
  local ok = run(string.format("dd if=%s bs=64K iflag=skip_bytes,count_bytes "
    .. "skip=%d count=%d status=none | %s > %s 2>/dev/null",
    quote(dir .. "/bzImage"), pl.offset, pl.length - d[2], tool, quote(tmp)))
  if ok and kernel.pvh_entry(tmp) == true and
     os.rename(tmp, dir .. "/vmlinux") then
    return true
  end
  os.remove(tmp)
  return false, ok and "no PVH entry (CONFIG_PVH off)" or (tool .. " failed")
end

-- An entry cached before entries carried a vmlinux gets one on its next
-- hit (publishing already tried for newer ones: metadata boot_image); the
-- entry is returned re-resolved (boot_path updated).
local function with_boot_vmlinux(entry, opts)
  if entry.boot_path ~= entry.path then return entry end
  local meta = M.metadata(entry)
  if meta and meta.boot_image == "bzImage" then return entry end -- tried
  local ok, why = M.add_boot_vmlinux(entry.cache_dir)
  if not ok then
    say(opts, "kernel: VMs boot the bzImage of %s (%s): slower under TCG",
        entry.name, why)
    return entry
  end
  return kernel.resolve(entry.name) or entry
end

-- The sched_ext SDK: libbpf, bpftool, headers and example schedulers,
-- built by the tree's own tools/sched_ext Makefile against its vmlinux.
local function build_sdk(tree, stage, jobs, log, opts)
  say(opts, "kernel: building the sched_ext SDK (tools/sched_ext)")
  local ok = run_logged(in_tree(tree, string.format(
    "make -C tools/sched_ext -j%d CLANG=clang-16 LLVM_STRIP=llvm-strip-16",
    jobs)), log, opts, 120, "sched_ext")
  if not ok then
    return fail("EIO", "make -C tools/sched_ext failed; see the build log")
  end
  local b = tree .. "/tools/sched_ext/build"
  local sdk = stage .. "/sdk"
  for _, d in ipairs{ "/include", "/lib", "/bin" } do
    assert(fs.mkdir_p(sdk .. d))
  end
  if not (copy(b .. "/include/.", sdk .. "/include/") and
          copy(tree .. "/tools/sched_ext/include/.", sdk .. "/include/") and
          copy(b .. "/obj/libbpf/libbpf.a", sdk .. "/lib/libbpf.a") and
          copy(b .. "/sbin/bpftool", sdk .. "/bin/bpftool")) then
    return fail("EIO", "cannot copy the sched_ext SDK out of %s", b)
  end
  -- Static example schedulers: they need nothing in the initramfs
  -- (make LDFLAGS=-static breaks the libbpf.so sub-build, so relink).
  for _, s in ipairs{ "scx_simple", "scx_qmap" } do
    local obj = b .. "/obj/sched_ext/" .. s .. ".o"
    if not run(string.format("gcc -o %s %s %s -static -lelf -lz -lzstd " ..
                             "-lpthread >>%s 2>&1",
                             quote(sdk .. "/bin/" .. s), quote(obj),
                             quote(b .. "/obj/libbpf/libbpf.a"),
                             quote(stage .. "/build.log"))) then
      return fail("EIO", "cannot link %s statically; see the build log", s)
    end
  end
  return true
end

local function my_pid()
  local stat = fs.read_file("/proc/self/stat") or ""
  return tonumber(stat:match("^(%d+)"))
end

local function pid_alive(pid)
  return pid and fs.stat("/proc/" .. pid) ~= nil
end

-- One build at a time per cache: a lock directory holding the owner's
-- pid (mkdir is atomic).  A lock whose owner died is taken over; a live
-- one is waited for, since the other build may produce what we want.
local function lock_build(build_root, opts)
  local dir = build_root .. "/.lock"
  assert(fs.mkdir_p(build_root))
  local waited = false
  while true do
    if run("mkdir " .. quote(dir) .. " 2>/dev/null") then
      assert(fs.write_atomic(dir .. "/pid", tostring(my_pid())))
      return function() fs.remove_tree(dir) end, waited
    end
    local owner = tonumber(fs.read_file(dir .. "/pid") or "")
    if owner and not pid_alive(owner) then
      fs.remove_tree(dir)
    else
      if not waited then
        say(opts, "kernel: waiting for another kernel build (pid %s, lock %s)",
            tostring(owner), dir)
      end
      waited = true
      run("sleep 5")
    end
  end
end

--- Build the sched_ext kernel, or return the cached one.
-- opts: fragment (path), jobs (default nproc), force (rebuild), quiet,
-- no_install (do not run apt-get), sdk (default true).
function M.build(opts)
  opts = opts or {}
  local fragment = opts.fragment or M.fragment_path()
  local ok, msg, code
  if not opts.no_install then
    ok, msg, code = M.ensure_packages(M.BUILD_PACKAGES, opts)
    if not ok then return nil, msg, code end
  end
  local src_version = M.package_version(M.SOURCE_PACKAGE)
  if not src_version then
    return fail("ENOENT", "%s is not installed (apt-get install %s)",
                M.SOURCE_PACKAGE, M.SOURCE_PACKAGE)
  end
  local hash
  hash, msg, code = M.config_hash(fragment, src_version)
  if not hash then return nil, msg, code end
  local hit = cache_entry_with_suffix("-" .. hash)
  if hit and not opts.force then
    say(opts, "kernel: cached %s (fragment unchanged)", hit.cache_dir)
    return with_boot_vmlinux(hit, opts)
  end

  local root = assert(kernel.cache_root())
  local cache = assert(kernel.cache_dir())
  assert(fs.mkdir_p(cache))
  local build_root = root .. "/kernel-build"
  local unlock, waited = lock_build(build_root, opts)
  if waited then -- the other build may have made exactly this kernel
    hit = cache_entry_with_suffix("-" .. hash)
    if hit and not opts.force then
      unlock()
      say(opts, "kernel: cached %s (built by the other process)",
          hit.cache_dir)
      return hit
    end
  end
  local results = table.pack(pcall(M._build_locked, opts, fragment,
                                   src_version, hash, root, cache, build_root))
  unlock()
  if not results[1] then error(results[2], 0) end
  return table.unpack(results, 2, results.n)
end

function M._build_locked(opts, fragment, src_version, hash, root, cache,
                         build_root)
  local ok, msg, code, tree
  tree, msg, code = prepare_tree(build_root, src_version, opts)
  if not tree then return nil, msg, code end
  local stage = cache .. "/.tmp-" .. hash
  fs.remove_tree(stage)
  assert(fs.mkdir_p(stage))
  local log_path = stage .. "/build.log"
  local log = assert(io.open(log_path, "w"))
  local t0 = os.time()
  local function finish(...)
    log:close()
    return ...
  end

  ok, msg, code = configure(tree, fragment, hash, log, opts)
  if not ok then return finish(nil, msg, code) end
  local jobs = opts.jobs or nproc()
  -- Estimate from the last build of this tree, for the progress display.
  local estimate = tonumber(fs.read_file(build_root .. "/.files") or "")
    or 2400
  say(opts, "kernel: building bzImage with make -j%d (log: %s)", jobs,
      log_path)
  local nfiles
  ok, nfiles = run_logged(in_tree(tree, string.format(
    "nice make -j%d bzImage", jobs)), log, opts, estimate, "kernel")
  if not ok then
    return finish(fail("EIO", "kernel build failed; see %s", log_path))
  end
  if nfiles > 200 then
    fs.write_atomic(build_root .. "/.files", tostring(nfiles))
  end
  local build_seconds = os.time() - t0

  local image = tree .. "/arch/x86/boot/bzImage"
  local version
  version, msg, code = kernel.image_version(image)
  if not version then return finish(nil, msg, code) end
  if not (copy(image, stage .. "/bzImage") and
          copy(tree .. "/.config", stage .. "/config")) then
    return finish(fail("EIO", "cannot copy the kernel into %s", stage))
  end
  if opts.sdk ~= false then
    ok, msg, code = build_sdk(tree, stage, jobs, log, opts)
    if not ok then return finish(nil, msg, code) end
    if not run(string.format("%s btf dump file %s format c > %s",
                             quote(stage .. "/sdk/bin/bpftool"),
                             quote(tree .. "/vmlinux"),
                             quote(stage .. "/vmlinux.h"))) then
      return finish(fail("EIO", "bpftool could not dump the BTF of %s",
                         tree .. "/vmlinux"))
    end
  end
  finish()
  local meta = {
    name = version .. "-" .. hash, kind = "built", version = version,
    config_hash = hash, fragment = fragment, recipe = M.RECIPE,
    source_package = M.SOURCE_PACKAGE .. " " .. src_version,
    built_at = os.date("!%Y-%m-%dT%H:%M:%SZ"),
    build_seconds = os.time() - t0, kernel_build_seconds = build_seconds,
    jobs = jobs, bzimage_bytes = (fs.stat(stage .. "/bzImage") or {}).size,
    sched_ext = kernel.config_sched_ext(stage .. "/config") == true,
    sdk = opts.sdk ~= false and "sdk" or nil,
    vmlinux_h = opts.sdk ~= false and "vmlinux.h" or nil,
  }
  return M.publish(stage, meta)
end

--- Write the small files of a staged entry and move it into place.
function M.publish(stage, meta)
  local cjson = require "cjson"
  local ok, why = M.add_boot_vmlinux(stage)
  meta.boot_image = ok and "vmlinux" or "bzImage"
  meta.boot_image_why = not ok and why or nil
  assert(fs.write_atomic(stage .. "/version", meta.version .. "\n"))
  assert(fs.write_atomic(stage .. "/kind", meta.kind .. "\n"))
  assert(fs.write_atomic(stage .. "/metadata.json", cjson.encode(meta) .. "\n"))
  local dest = assert(kernel.cache_dir()) .. "/" .. meta.name
  fs.remove_tree(dest)
  if not os.rename(stage, dest) then
    return fail("EIO", "cannot move %s to %s", stage, dest)
  end
  return kernel.resolve(meta.name)
end

--- Metadata of a cache entry (its metadata.json as a table), or nil.
function M.metadata(entry)
  local text = fs.read_file(entry.cache_dir .. "/metadata.json")
  if not text then return nil end
  local ok, t = pcall(require("cjson").decode, text)
  return ok and t or nil
end

--- Newest Debian linux-image-6.12.*-amd64-unsigned apt can download:
-- package name and version, or nil, msg, code.
function M.debian_candidate()
  local names = capture("apt-cache pkgnames linux-image-6.12.")
  local best, best_patch, best_version
  for name in names:gmatch("%S+") do
    local patch = name:match("^linux%-image%-6%.12%.(%d+)%+deb%d+%-amd64%-unsigned$")
    if patch and (not best_patch or tonumber(patch) > best_patch) then
      local policy = capture("apt-cache policy " .. quote(name))
      local cand = policy:match("Candidate: (%S+)")
      if cand and cand ~= "(none)" then
        best, best_patch, best_version = name, tonumber(patch), cand
      end
    end
  end
  if not best then
    return fail("ENOENT", "apt offers no linux-image-6.12.*-amd64-unsigned " ..
                "package (is bookworm-security or bookworm-backports in the " ..
                "apt sources? try apt-get update)")
  end
  return best, best_version
end

--- Download Debian's kernel with apt-get and put it into the cache.
-- opts: package (exact name), force, quiet.
function M.fetch_debian(opts)
  opts = opts or {}
  local pkg, version = opts.package, nil
  -- Any cached Debian kernel will do unless a package is named: no apt
  -- queries, so this works offline and in a few milliseconds.
  if not pkg and not opts.force then
    for _, k in ipairs(kernel.list() or {}) do
      if k.kind == "debian" then
        say(opts, "kernel: cached %s", k.cache_dir)
        return with_boot_vmlinux(k, opts)
      end
    end
  end
  if not pkg then
    local msg
    pkg, version, msg = M.debian_candidate()
    if not pkg then return nil, version, msg end
  end
  local cache = assert(kernel.cache_dir())
  -- A hit: an entry of kind debian made from this package.
  for _, k in ipairs(kernel.list() or {}) do
    local meta = k.kind == "debian" and M.metadata(k)
    if meta and meta.package == pkg and not opts.force then
      say(opts, "kernel: cached %s", k.cache_dir)
      return with_boot_vmlinux(k, opts)
    end
  end
  assert(fs.mkdir_p(cache))
  local stage = cache .. "/.tmp-debian-" .. os.time()
  fs.remove_tree(stage)
  assert(fs.mkdir_p(stage .. "/x"))
  say(opts, "kernel: apt-get download %s", pkg)
  -- apt drops privileges to _apt for downloads: a world-writable
  -- directory under /tmp (not ~/.cache, often mode 0700) keeps it happy.
  local dl = assert(fs.tempdir("schedtest-deb-"))
  run("chmod 0777 " .. quote(dl))
  local function cleanup(...)
    fs.remove_tree(stage)
    fs.remove_tree(dl)
    return ...
  end
  if not run("cd " .. quote(dl) .. " && apt-get download -q " ..
             quote(pkg) .. (opts.quiet and " >/dev/null 2>&1" or " >&2")) then
    return cleanup(fail("EIO", "apt-get download %s failed", pkg))
  end
  local deb = capture("ls " .. quote(dl) .. "/*.deb"):match("[^\n]+")
  if not deb then return cleanup(fail("EIO", "no .deb downloaded")) end
  local members = { "./boot/" }
  local release = pkg:match("^linux%-image%-(.-)%-unsigned$")
  for _, m in ipairs(M.DEBIAN_MODULES) do
    members[#members + 1] = "./lib/modules/" .. release .. "/" .. m.path
  end
  local q = {}
  for i, m in ipairs(members) do q[i] = quote(m) end
  if not run("dpkg-deb --fsys-tarfile " .. quote(deb) .. " | tar -x -C " ..
             quote(stage .. "/x") .. " " .. table.concat(q, " ")) then
    return cleanup(fail("EIO", "cannot extract %s", deb))
  end
  local boot = stage .. "/x/boot/"
  if not (copy(boot .. "vmlinuz-" .. release, stage .. "/bzImage") and
          copy(boot .. "config-" .. release, stage .. "/config")) then
    return cleanup(fail("EIO", "%s has no boot/vmlinuz-%s", deb, release))
  end
  -- Modules decompressed on the host: the guest agent then needs only
  -- finit_module(), whatever the guest kernel's MODULE_DECOMPRESS says.
  assert(fs.mkdir_p(stage .. "/modules"))
  local mods, order = {}, {}
  for _, m in ipairs(M.DEBIAN_MODULES) do
    local src = stage .. "/x/lib/modules/" .. release .. "/" .. m.path
    local file = m.name .. ".ko"
    if not run("xz -dc " .. quote(src) .. " > " ..
               quote(stage .. "/modules/" .. file)) then
      return cleanup(fail("EIO", "cannot decompress %s", src))
    end
    mods[#mods + 1] = { name = m.name, file = "modules/" .. file,
                        why = m.why }
    order[#order + 1] = file
  end
  assert(fs.write_atomic(stage .. "/modules/modules.order",
                         table.concat(order, "\n") .. "\n"))
  fs.remove_tree(stage .. "/x")
  fs.remove_tree(dl)
  local kver, msg, code = kernel.image_version(stage .. "/bzImage")
  if not kver then return cleanup(nil, msg, code) end
  local cfg = fs.read_file(stage .. "/config")
  local function opt(name)
    return cfg:match("\n" .. name .. "=(%S+)") or "n"
  end
  local facts = {}
  for _, o in ipairs{ "CONFIG_SCHED_CLASS_EXT", "CONFIG_VIRTIO_PCI",
                      "CONFIG_VIRTIO_CONSOLE", "CONFIG_VIRTIO_MMIO",
                      "CONFIG_PVPANIC", "CONFIG_PVPANIC_MMIO",
                      "CONFIG_PVPANIC_PCI", "CONFIG_SERIAL_8250",
                      "CONFIG_X86_IOPL_IOPERM", "CONFIG_DEBUG_FS",
                      "CONFIG_SCHEDSTATS", "CONFIG_SCHED_HRTICK",
                      "CONFIG_NUMA", "CONFIG_CPUSETS", "CONFIG_HZ",
                      "CONFIG_MODULE_DECOMPRESS", "CONFIG_DEBUG_INFO_BTF" } do
    facts[o] = opt(o)
  end
  local hash = sha256_hex(cfg):sub(1, 12)
  local meta = {
    name = kver .. "-" .. hash, kind = "debian", version = kver,
    config_hash = hash, package = pkg, package_version = version,
    fetched_at = os.date("!%Y-%m-%dT%H:%M:%SZ"),
    bzimage_bytes = (fs.stat(stage .. "/bzImage") or {}).size,
    sched_ext = facts.CONFIG_SCHED_CLASS_EXT == "y",
    modules = mods, config_facts = facts,
  }
  local k
  k, msg, code = M.publish(stage, meta)
  if not k then return cleanup(nil, msg, code) end
  return k
end

return M

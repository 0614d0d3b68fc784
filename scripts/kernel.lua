-- Guest kernels: build the sched_ext kernel, fetch Debian's, list the cache
local usage = require "schedtest.usage"
local kernel = require "schedtest.kernel"
local kernels = require "schedtest.kernels"

local io, string, table, ipairs = io, string, table, ipairs

local args = { ... }

local SUMMARY = [[
Guest kernels for the VMs, kept in the kernel cache.

  schedtest kernel build [--jobs N] [--force] [--fragment FILE]
      build a sched_ext kernel from Debian's linux-source-6.12 with the
      config fragment kernel/schedtest.config (cached by fragment hash)
  schedtest kernel fetch debian [--package NAME] [--force]
      put Debian's linux-image-6.12.*-amd64-unsigned kernel in the cache
  schedtest kernel list [--json]
      the cache
  schedtest kernel show SPEC [--json]
      what --kernel SPEC resolves to (file, source tree or cache entry)
  schedtest kernel dir
      the cache directory]]

local function top_help()
  io.write("usage: schedtest kernel build|fetch|list|show|dir ...\n\n",
           SUMMARY, "\n")
end

local function print_json(v)
  io.write(require("cjson").encode(v), "\n")
end

local function mib(n)
  return n and string.format("%.1f MiB", n / 1048576) or "?"
end

local function show(k)
  local meta = k.cache_dir and kernels.metadata(k) or {}
  local rows = {
    { "path", k.path },
    { "boots", k.boot_path == k.path and "the bzImage"
               or k.boot_path .. " (PVH vmlinux, no decompression)" },
    { "version", k.version }, { "source", k.source },
    { "sched_ext", tostring(k.sched_ext) }, { "config", k.config or "-" },
  }
  if k.cache_dir then
    rows[#rows + 1] = { "name", k.name }
    rows[#rows + 1] = { "kind", k.kind or "-" }
    rows[#rows + 1] = { "cache_dir", k.cache_dir }
    if meta.package then rows[#rows + 1] = { "package", meta.package } end
    if meta.build_seconds then
      rows[#rows + 1] = { "build time", meta.build_seconds .. " s" }
    end
    for _, m in ipairs(meta.modules or {}) do
      rows[#rows + 1] = { "module", m.file .. "  (" .. m.why .. ")" }
    end
  end
  for _, r in ipairs(rows) do
    io.write(string.format("%-10s %s\n", r[1], r[2]))
  end
end

local function cmd_build(rest)
  local p = usage.parser{ prog = "schedtest kernel build",
    summary = "Build the sched_ext guest kernel (cached by fragment hash)." }
  p:option{ "-j", "--jobs", metavar = "N", type = "integer",
            help = "parallel make jobs (default: nproc)",
            check = function(v) return v >= 1, "must be at least 1" end }
  p:option{ "--fragment", metavar = "FILE",
            help = "config fragment (default: kernel/schedtest.config)" }
  p:flag{ "--force", help = "rebuild even when the cache has this config" }
  p:flag{ "--no-sdk", help = "skip the sched_ext SDK and vmlinux.h" }
  p:flag{ "--no-install", help = "do not apt-get install missing packages" }
  p:flag{ "-q", "--quiet", help = "no progress output" }
  local o = p:parse(rest)
  if not o then return 0 end
  local k, msg, code = kernels.build{ jobs = o.jobs, fragment = o.fragment,
    force = o.force, sdk = not o.no_sdk, no_install = o.no_install,
    quiet = o.quiet }
  if not k then
    io.stderr:write("schedtest kernel build: ", msg, "\n")
    return code == "ENOTSUP" and 2 or 1
  end
  show(k)
  return 0
end

local function cmd_fetch(rest)
  local p = usage.parser{ prog = "schedtest kernel fetch",
    summary = "Put a distribution kernel into the cache (apt-get download)." }
  p:positional{ "distro", help = "only `debian`" }
  p:option{ "--package", metavar = "NAME",
            help = "exact package (default: the newest " ..
                   "linux-image-6.12.*-amd64-unsigned apt offers)" }
  p:flag{ "--force", help = "download again even when cached" }
  p:flag{ "-q", "--quiet", help = "no progress output" }
  local o = p:parse(rest)
  if not o then return 0 end
  if o.distro ~= "debian" then
    usage.error("unknown distribution '%s' (only 'debian')", o.distro)
  end
  local k, msg, code = kernels.fetch_debian{ package = o.package,
                                             force = o.force, quiet = o.quiet }
  if not k then
    io.stderr:write("schedtest kernel fetch: ", msg, "\n")
    return code == "ENOENT" and 2 or 1
  end
  show(k)
  return 0
end

local function cmd_list(rest)
  local p = usage.parser{ prog = "schedtest kernel list",
    summary = "List the kernel cache." }
  p:flag{ "--json", help = "print a JSON array" }
  local o = p:parse(rest)
  if not o then return 0 end
  local list, msg = kernel.list()
  if not list then
    io.stderr:write("schedtest kernel list: ", msg, "\n")
    return 1
  end
  if o.json then
    -- lua-cjson 2.1 encodes an empty table as {}; a list is wanted.
    if #list == 0 then io.write("[]\n") else print_json(list) end
    return 0
  end
  if #list == 0 then
    io.write("no kernels in ", kernel.cache_dir(), " (run `schedtest kernel ",
             "build` or `schedtest kernel fetch debian`)\n")
    return 0
  end
  local rows = { { "NAME", "VERSION", "KIND", "SCHED_EXT", "SIZE", "WHEN" } }
  for _, k in ipairs(list) do
    local meta = kernels.metadata(k) or {}
    rows[#rows + 1] = { k.name, k.version, k.kind or "-",
      k.sched_ext and "yes" or "no", mib(meta.bzimage_bytes),
      meta.built_at or meta.fetched_at or "-" }
  end
  local w = {}
  for _, r in ipairs(rows) do
    for i, c in ipairs(r) do w[i] = math.max(w[i] or 0, #c) end
  end
  for _, r in ipairs(rows) do
    local cells = {}
    for i, c in ipairs(r) do
      cells[i] = i < #r and c .. string.rep(" ", w[i] - #c) or c
    end
    io.write(table.concat(cells, "  "), "\n")
  end
  io.write("(", kernel.cache_dir(), ")\n")
  return 0
end

local function cmd_show(rest)
  local p = usage.parser{ prog = "schedtest kernel show",
    summary = "Show what a --kernel argument resolves to." }
  p:positional{ "spec", help = "bzImage file, kernel source tree, or " ..
                               "cache name/version prefix/kind" }
  p:flag{ "--json", help = "print JSON" }
  local o = p:parse(rest)
  if not o then return 0 end
  local k, msg = kernel.resolve(o.spec)
  if not k then
    io.stderr:write("schedtest kernel show: ", msg, "\n")
    return 1
  end
  if o.json then print_json(k) else show(k) end
  return 0
end

local sub = args[1]
local rest = { table.unpack(args, 2) }
if sub == nil or sub == "-h" or sub == "--help" or sub == "help" then
  top_help()
  return sub == nil and 2 or 0
elseif sub == "build" then
  return cmd_build(rest)
elseif sub == "fetch" then
  return cmd_fetch(rest)
elseif sub == "list" then
  return cmd_list(rest)
elseif sub == "show" then
  return cmd_show(rest)
elseif sub == "dir" then
  io.write(kernel.cache_dir(), "\n")
  return 0
end
usage.error("unknown kernel command '%s' (build, fetch, list, show, dir)",
            sub)

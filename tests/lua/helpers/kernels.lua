-- helpers.kernels: the guest kernels end-to-end specs boot, built or
-- fetched on first use and cached (~/.cache/schedtest/kernels, or
-- $SCHEDTEST_CACHE_DIR), so a fresh machine's `make test` builds the
-- sched_ext kernel once.
--
--   local kernels = require "helpers.kernels"
--   local k = kernels.built()    -- {path=, version=, sched_ext=true, ...}
--   local d = kernels.debian()   -- Debian's 6.12 kernel
--   d.modules                    -- { {name=, path=}, ... } to insmod
--
-- Both raise when the kernel cannot be had (the spec then fails with the
-- reason), and memoise the result for the rest of the test process.
local M = {}

local memo = {}

local function with_modules(k)
  local meta = require("schedtest.kernels").metadata(k) or {}
  k.modules = {}
  for _, m in ipairs(meta.modules or {}) do
    k.modules[#k.modules + 1] = { name = m.name,
                                  path = k.cache_dir .. "/" .. m.file }
  end
  k.sdk = meta.sdk and (k.cache_dir .. "/" .. meta.sdk) or nil
  k.vmlinux_h = meta.vmlinux_h and (k.cache_dir .. "/" .. meta.vmlinux_h)
    or nil
  return k
end

--- The sched_ext kernel built from kernel/schedtest.config (builds it,
-- 10-30 minutes on 2 cores, when the cache lacks this fragment's build).
function M.built()
  if not memo.built then
    local k, msg = require("schedtest.kernels").build{}
    assert(k, "cannot build the sched_ext kernel: " .. tostring(msg))
    memo.built = with_modules(k)
  end
  return memo.built
end

--- Debian's linux-image-6.12 kernel (apt-get download when not cached).
function M.debian()
  if not memo.debian then
    local k, msg = require("schedtest.kernels").fetch_debian{}
    assert(k, "cannot fetch Debian's kernel: " .. tostring(msg))
    memo.debian = with_modules(k)
  end
  return memo.debian
end

return M

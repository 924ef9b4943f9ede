-- lgperf's wrk script for GETs and issues. Arguments after "--":
--   get                          the URL as given
--   issue <api key> <redirect> [<tag>]
--                                POST to the URL's path (/v1/links), a new
--                                address each time (one address would
--                                revoke its own link); wrk processes run
--                                side by side pass distinct tags
local threads = {}
local n = 0
function setup(thread)
  thread:set("tid", n)
  n = n + 1
  table.insert(threads, thread)
end

local mode, redirect, tag, i = "get", "", "", 0
function init(args)
  mode = args[1] or "get"
  if mode == "issue" then
    wrk.method = "POST"
    wrk.headers["Authorization"] = "Bearer " .. args[2]
    wrk.headers["Content-Type"] = "application/json"
    redirect = args[3]
    tag = args[4] or ""
  end
end

function request()
  if mode == "issue" then
    i = i + 1
    return wrk.format(nil, nil, nil,
      string.format('{"email":"u%s-%d-%d@perf.test","redirect_url":"%s","send_email":false}', tag, tid, i, redirect))
  end
  return wrk.request()
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'LGPERF {"requests":%d,"duration_us":%d,"errors":%d,"non2xx":%d,"p50_us":%d,"p99_us":%d,"p90_us":%d,"p999_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99),
    latency:percentile(90), latency:percentile(99.9), latency.max))
end

-- lgperf's wrk script for prepared POSTs. Arguments after "--":
--   <file> <threads>   lines "path<TAB>JSON body"; thread k of n sends the
--                      lines whose index is k mod n, each once, then wraps
--                      (counted: a wrapped confirm answers "used")
local threads = {}
local n = 0
function setup(thread)
  thread:set("tid", n)
  n = n + 1
  table.insert(threads, thread)
end

local reqs, i = {}, 0
consumed, wrapped = 0, 0
function init(args)
  local nth, k = tonumber(args[2]), 0
  for line in io.lines(args[1]) do
    if k % nth == tid then
      local path, body = line:match("^(%S+)\t(.*)$")
      reqs[#reqs + 1] = wrk.format("POST", path, {["Content-Type"] = "application/json"}, body)
    end
    k = k + 1
  end
end

function request()
  i = i + 1
  if i > #reqs then
    i, wrapped = 1, wrapped + 1
  end
  return reqs[i]
end

function response(status, headers, body)
  if body:find('"consumed"', 1, true) then
    consumed = consumed + 1
  end
end

function done(summary, latency, requests)
  local c, w = 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("consumed")
    w = w + t:get("wrapped")
  end
  local e = summary.errors
  io.write(string.format(
    'LGPERF {"requests":%d,"duration_us":%d,"errors":%d,"non2xx":%d,"p50_us":%d,"p99_us":%d,"p90_us":%d,"p999_us":%d,"max_us":%d,"consumed":%d,"wrapped":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99),
    latency:percentile(90), latency:percentile(99.9), latency.max, c, w))
end

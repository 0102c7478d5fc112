-- wrk script for bench/run.sh. Configured by environment variables:
--   BENCH_METHOD   GET | POST (default GET)
--   BENCH_BODY     request body (POST)
--   BENCH_HEADERS  extra headers, "Name: value" separated by newlines
--   BENCH_TOKEN    bearer token sent on every request ("" = no Authorization header)
--   BENCH_TOKENS   file with one token a line, sent in turn (distinct valid tokens)
--   BENCH_SESSIONS file with one Mcp-Session-Id a line, sent in turn (one session per connection)
--   BENCH_FORGE    "prefix:LEN": a fresh random token per request, PREFIX followed by LEN
--                  random base64url characters (distinct invalid tokens)
--   BENCH_OUT      file that receives one JSON line of results when the run is done
local method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
local token = os.getenv("BENCH_TOKEN") or ""
local tokens_file = os.getenv("BENCH_TOKENS")
local forge = os.getenv("BENCH_FORGE")
local sessions_file = os.getenv("BENCH_SESSIONS")

local headers = {}
for line in (os.getenv("BENCH_HEADERS") or ""):gmatch("[^\n]+") do
  local name, value = line:match("^([^:]+):%s*(.*)$")
  if name then headers[name] = value end
end

wrk.method = method
wrk.body = body
wrk.headers = headers
if token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end

local tokens, next_token = nil, 1
local sessions, next_session = nil, 1
local forge_prefix, forge_len = nil, 0
local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

-- n random base64url characters that decode canonically (unused low bits of the last
-- character are zero) to a value whose top bit is clear: a forged RSA/ECDSA signature then gets
-- as far as the signature check instead of failing on its encoding or range.
local function random_b64url(n)
  local out = {}
  for i = 1, n do
    local k = math.random(1, 64)
    out[i] = alphabet:sub(k, k)
  end
  local k = math.random(1, 32)
  out[1] = alphabet:sub(k, k)
  local unused_bits = ({ [0] = 0, [2] = 4, [3] = 2 })[n % 4] or 0
  local step = 2 ^ unused_bits
  k = math.floor(math.random(0, 63) / step) * step + 1
  out[n] = alphabet:sub(k, k)
  return table.concat(out)
end

local function lines(path)
  local out = {}
  for line in io.lines(path) do
    if line ~= "" then out[#out + 1] = line end
  end
  return out
end

local function set(name)
  return name and name ~= ""
end

function init(args)
  if set(tokens_file) then
    tokens = lines(tokens_file)
    next_token = (id or 0) + 1
  end
  if set(sessions_file) then
    sessions = lines(sessions_file)
    if #sessions == 0 then
      sessions = nil
    else
      next_session = (id or 0) % #sessions + 1
    end
  end
  if set(forge) then
    local prefix, len = forge:match("^(.*):(%d+)$")
    forge_prefix, forge_len = prefix, tonumber(len)
    math.randomseed(os.time() + (id or 0) * 7919)
  end
end

function setup(thread)
  thread:set("id", #threads_seen)
  threads_seen[#threads_seen + 1] = thread
end
threads_seen = {}

if set(tokens_file) or set(forge) or set(sessions_file) then
  request = function()
    local h = {}
    for k, v in pairs(headers) do h[k] = v end
    if tokens then
      h["Authorization"] = "Bearer " .. tokens[next_token]
      next_token = next_token % #tokens + 1
    elseif forge_prefix then
      h["Authorization"] = "Bearer " .. forge_prefix .. random_b64url(forge_len)
    end
    if sessions then
      h["Mcp-Session-Id"] = sessions[next_session]
      next_session = next_session % #sessions + 1
    end
    return wrk.format(method, nil, h, body)
  end
end

function done(summary, latency, requests)
  local out = io.open(os.getenv("BENCH_OUT"), "w")
  local e = summary.errors
  out:write(string.format(
    '{"requests":%d,"duration_us":%d,"rps":%.1f,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"non2xx":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d}\n',
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout))
  out:close()
end

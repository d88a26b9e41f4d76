-- One benchmark case for wrk, set up by bench/run.py through the environment:
--   BENCH_METHOD        GET (default) or POST
--   BENCH_BODY          a JSON body; every {n} becomes the request's number, so no two cotos are alike
--   BENCH_COOKIES_FILE  one Cookie header value per line; requests take them in turn (many people)
--   BENCH_ORIGIN        the Origin header a browser on the gateway's page sends
-- done() prints one line, BENCH_RESULT {...}, that run.py reads.

local method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
local origin = os.getenv("BENCH_ORIGIN")
local cookies = {}
local cookies_file = os.getenv("BENCH_COOKIES_FILE")
if cookies_file then
  for line in io.lines(cookies_file) do
    if line ~= "" then cookies[#cookies + 1] = line end
  end
end
local sent = 0

function request()
  sent = sent + 1
  local headers = {}
  if origin then headers["Origin"] = origin end
  if #cookies > 0 then headers["Cookie"] = cookies[sent % #cookies + 1] end
  local this_body = nil
  if body then
    headers["Content-Type"] = "application/json"
    this_body = body:gsub("{n}", tostring(sent))
  end
  return wrk.format(method, nil, headers, this_body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d, "status": %d}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.timeout, e.status))
end

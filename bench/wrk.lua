-- The wrk script of the benchmark (see bench/wrk.py). Arguments after wrk's `--`:
--   1. "unique" or "same": with "unique", every request is one no answer cache can have seen: a SPARQL
--      query's text ends in a new comment ("\n# TAG-THREAD-N", percent-encoded; the query must be the
--      path's last parameter), any other path gets a parameter "run=TAG-THREAD-N" the server ignores;
--   2. TAG, naming the run, so that two runs never send the same text;
--   3. (optional) a file of request paths, one a line, asked in turn instead of the URL's (each thread
--      from its own place).
-- Every answer other than 2xx is counted (wrk itself counts only statuses over 399). At the end, one line:
-- "wrk-json {...}" with the requests, non-2xx answers, socket errors, duration and latency percentiles (µs).

local threads = {}

function setup(thread)
  thread:set("thread_number", #threads)
  table.insert(threads, thread)
end

function init(args)
  local unique, tag = args[1] == "unique", args[2] or "run"
  local counter = 0
  local paths = {}
  if args[3] then
    for line in io.lines(args[3]) do
      if line ~= "" then table.insert(paths, line) end
    end
  end
  local at = thread_number * math.floor(#paths / 2)
  non2xx = 0
  if unique or #paths > 0 then
    request = function()
      counter = counter + 1
      local path = #paths > 0 and paths[(at + counter) % #paths + 1] or wrk.path
      if unique then
        local run = tag .. "-" .. thread_number .. "-" .. counter
        if path:find("[?&]query=") then
          path = path .. "%0A%23%20" .. run
        else
          path = path .. (path:find("?", 1, true) and "&" or "?") .. "run=" .. run
        end
      end
      return wrk.format(nil, path)
    end
  end
  response = function(status, headers, body)
    if status < 200 or status > 299 then
      non2xx = non2xx + 1
    end
  end
end

function done(summary, latency, requests)
  local non2xx = 0
  for _, thread in ipairs(threads) do
    non2xx = non2xx + (thread:get("non2xx") or 0)
  end
  local errors = summary.errors
  io.write(string.format(
    'wrk-json {"requests": %d, "non2xx": %d, "connect": %d, "read": %d, "write": %d, "status": %d, '
      .. '"timeout": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "max_us": %d}\n',
    summary.requests, non2xx, errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    summary.duration, latency:percentile(50), latency:percentile(95), latency.max
  ))
end

-- wrk script of the mixed loopback run: 1,000 clients, each with its own token, the requests
-- spread over them in turn; each client renews its token after 4 s (its first token expires
-- at 5 s), as a client-credentials client does near expiry. Tokens come from the file that
-- bench_server writes (one "FIRST RENEWED" pair a line), named by the TOKENS variable. Every
-- request is formatted once in init(), so that the script costs wrk as little as a fixed
-- request does.
local first, renewed = {}, {}
local n = 0
local start = os.time()

function init(args)
  for line in io.lines(os.getenv("TOKENS")) do
    local a, b = line:match("^(%S+) (%S+)$")
    first[#first + 1] = wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. a })
    renewed[#renewed + 1] = wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. b })
  end
end

function request()
  n = n + 1
  local i = (n % #first) + 1
  if n % 1024 == 0 and os.time() - start >= 4 then
    first = renewed
  end
  return first[i]
end

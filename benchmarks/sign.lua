-- wrk script: each connection acts as a stream of new signers. For every signature it GETs the
-- petition page (a new visitor: no cookie), takes the form token and the form cookie from
-- the answer, and POSTs the form with them and an email no one has used. Run it with as many
-- connections as threads (-tN -cN), so that each Lua state drives exactly one connection.
local slug = os.getenv("PETITION_SLUG") or "pardon-aron-atabek"
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  token, cookie, sent, signed, refused, other = nil, nil, 0, 0, 0, 0
  math.randomseed(id * 7919 + os.time())
  run = math.random(1, 1000000000)
end

function request()
  if token == nil then
    return wrk.format("GET", "/petitions/" .. slug, {})
  end
  sent = sent + 1
  local body = "csrf_token=" .. token .. "&name=%D3%98%D0%BB%D0%B8%D1%8F+" .. sent ..
    "&email=s" .. run .. "-" .. id .. "-" .. sent .. "%40example.org&country=KZ" ..
    "&city=%D0%90%D0%BB%D0%BC%D0%B0%D1%82%D1%8B&consent=y"
  local headers = {["Content-Type"] = "application/x-www-form-urlencoded", ["Cookie"] = cookie}
  return wrk.format("POST", "/petitions/" .. slug .. "/sign", headers, body)
end

function response(status, headers, body)
  if token == nil then
    token = string.match(body, 'name="csrf_token" type="hidden" value="([^"]+)"')
    local set = headers["Set-Cookie"] or ""
    cookie = string.match(set, "(petitions_form=[^;]+)")
    if token == nil or cookie == nil then other = other + 1 end
    return
  end
  if status == 303 then signed = signed + 1
  elseif status == 429 then refused = refused + 1
  else other = other + 1 end
  token, cookie = nil, nil
end

function done(summary, latency, requests)
  local total_signed, total_refused, total_other = 0, 0, 0
  for _, thread in ipairs(threads) do
    total_signed = total_signed + thread:get("signed")
    total_refused = total_refused + thread:get("refused")
    total_other = total_other + thread:get("other")
  end
  local seconds = summary.duration / 1e6
  io.write(string.format("signatures %d (%.1f/s), refused 429: %d, other answers: %d\n",
    total_signed, total_signed / seconds, total_refused, total_other))
end

-- wrk script for scripts/bench.sh. Arguments (after `--`):
--   get                          the request given on the command line, unchanged
--   post TAG ORG_IDS TYPE_ID     POST a new Machine credential with a unique name, into the
--                                comma-separated organizations in turn (one id: always it)
--   patch TAG FIRST_ID LAST_ID   PATCH the description of credentials FIRST_ID..LAST_ID
--   render                       POST {"purpose": ...} to the render URL on the command line
--   random-detail FIRST LAST     GET a credential with a random id in FIRST..LAST each time
--   random-list ORG_ID           GET a list filtered by a random name__icontains (three
--                                digits of the names' serial numbers: about 100 of 100,000
--                                credentials), half the time also by organization, in a
--                                random order
-- The Authorization header comes from wrk's -H. At the end one line
-- `BENCH requests=.. duration_us=.. p50_us=.. p99_us=.. non2xx=.. socket_errors=..` is
-- printed for the script to parse.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("tid", #threads)
end

local counter = 0

function init(args)
   local mode = args[1] or "get"
   if mode == "post" then
      local tag, ty = args[2], args[4]
      local orgs = {}
      for org in string.gmatch(args[3], "[^,]+") do table.insert(orgs, org) end
      wrk.method = "POST"
      wrk.headers["Content-Type"] = "application/json"
      request = function()
         counter = counter + 1
         local body = string.format(
            '{"name":"bench-%s-%d-%d","organization":%s,"credential_type":%s,' ..
            '"inputs":{"username":"bench","password":"secret-%d","become_method":"sudo"}}',
            tag, tid, counter, orgs[(counter + tid) % #orgs + 1], ty, counter)
         return wrk.format(nil, "/api/v2/credentials/", nil, body)
      end
   elseif mode == "render" then
      wrk.method = "POST"
      wrk.headers["Content-Type"] = "application/json"
      wrk.body = '{"purpose":"load benchmark"}'
   elseif mode == "random-detail" then
      local first, last = tonumber(args[2]), tonumber(args[3])
      math.randomseed(os.time() + tid * 7919)
      request = function()
         local id = math.random(first, last)
         return wrk.format("GET", "/api/v2/credentials/" .. id .. "/")
      end
   elseif mode == "random-list" then
      local org = args[2]
      local orders = { "name", "-name", "modified", "-modified", "id", "-id" }
      math.randomseed(os.time() + tid * 104729)
      request = function()
         local path = string.format("/api/v2/credentials/?name__icontains=%03d&order_by=%s",
            math.random(0, 999), orders[math.random(#orders)])
         if math.random(2) == 1 then
            path = path .. "&organization=" .. org
         end
         return wrk.format("GET", path)
      end
   elseif mode == "patch" then
      local tag, first, last = args[2], tonumber(args[3]), tonumber(args[4])
      local span = last - first + 1
      wrk.method = "PATCH"
      wrk.headers["Content-Type"] = "application/json"
      request = function()
         counter = counter + 1
         local id = first + (counter * 7919 + tid * 104729) % span
         local body = string.format('{"description":"patched by %s %d %d"}', tag, tid, counter)
         return wrk.format(nil, "/api/v2/credentials/" .. id .. "/", nil, body)
      end
   end
end

local function socket_errors(e)
   return e.connect + e.read + e.write + e.timeout
end

function done(summary, latency, requests)
   io.write(string.format(
      "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d socket_errors=%d\n",
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
      summary.errors.status, socket_errors(summary.errors)))
end

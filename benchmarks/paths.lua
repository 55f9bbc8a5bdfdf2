-- wrk script: GET, in turn, each path of the file named by PATHS_FILE (one a line), each
-- connection starting at its own place, so that consecutive requests ask for different pages.
local file = os.getenv("PATHS_FILE")
local paths = {}
for line in io.lines(file) do
  if line ~= "" then table.insert(paths, line) end
end
if #paths == 0 then error("no paths in " .. file) end
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("start", counter)
end

function init(args)
  at = (start * 7919) % #paths
end

function request()
  at = at % #paths + 1
  return wrk.format("GET", paths[at], {})
end

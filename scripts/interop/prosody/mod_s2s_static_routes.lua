-- Test set-ups only: server-to-server connections to the domains named in
-- s2s_static_routes go to a fixed address instead of one found through
-- DNS, so that the interop tests can federate Prosody with our server on
-- loopback without touching the machine's resolver. Prosody 0.12 has no
-- such option. Written for this project.
--
--   s2s_static_routes = { ["ours.test"] = { "127.0.0.1", 15270 } }
--
-- mod_s2s asks net.resolvers.service for `xmpps-server` and `xmpp-server`
-- targets; for a routed domain the first gives nothing and the second the
-- configured address.
local manual = require "net.resolvers.manual";
local service = require "net.resolvers.service";

local routes = module:get_option("s2s_static_routes", {});

-- Loaded once per host: wrap the original lookup only once.
local original = service.static_routes_original or service.new;
service.static_routes_original = original;

function service.new(hostname, service_name, proto, extra)
	local route = routes[hostname];
	if not route then
		return original(hostname, service_name, proto, extra);
	end
	if service_name ~= "xmpp-server" then
		return manual.new({}, proto, extra);
	end
	return manual.new({ { proto .. "4", route[1], route[2], extra } }, proto, extra);
end

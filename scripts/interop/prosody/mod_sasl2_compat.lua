-- mod_sasl2_compat: run the 2023 prosody-modules SASL2 family on Prosody 0.12.
--
-- Debian 12's prosody-modules (hg 2023-02-23) ships mod_sasl2 (XEP-0388),
-- mod_sasl2_bind2 (XEP-0386), mod_sasl2_sm (XEP-0198 inline) and
-- mod_sasl2_fast (XEP-0484). They were written against Prosody trunk (what
-- became 0.13) and call APIs that the packaged Prosody 0.12.3 does not have,
-- so each of them dies with a Lua error somewhere. This module supplies the
-- missing pieces so the interop tests get a working SASL2 server. Load it on
-- the same host as those modules; load order does not matter.
--
-- What it supplies (names as the 2023 modules expect them):
--  1. conn:ssl_info(), conn:ssl_peerfinished(), conn:ssl_exportkeyingmaterial()
--     on this host's c2s connections (0.12 only has conn:socket()).
--  2. event.stream.from in "stream-features" (FAST reads the client's stream
--     'from'; 0.12's mod_c2s does not pass the stream attributes along).
--  3. stanza:get_child_attr() and stanza:add_error() (added to the shared
--     stanza metatable, only when missing).
--  4. util.datetime functions that accept fractional timestamps (0.12 hands
--     them to os.date, which Lua 5.4 rejects; FAST passes util.time.now()).
--  5. mod_smacks.do_enable() / do_resume() for this host, built on 0.12's
--     handle_enable() / handle_resume(), which send their answers themselves:
--     we capture those answers and hand them back the way mod_sasl2_sm wants.
--  6. The tls-exporter channel binding for FAST's HT-SHA-256-EXPR: 0.12's
--     mod_saslauth replaces the session's SASL handler after mod_sasl2 built
--     its own, and FAST takes the channel-binding table from the former.
--     Also a <failure/> instead of a Lua error for an <authenticate/> without
--     a mechanism, or an HT-* one without an initial response or whose channel
--     binding this connection lacks.
--  7. "authentication-success", which mod_saslauth fires on SASL1 success and
--     mod_sasl2 does not. Without it mod_c2s keeps the 10 kB pre-auth stanza
--     size limit for the whole SASL2 session.

local st = require "util.stanza";
local errors = require "util.error";
local datetime = require "util.datetime";
local filters = require "util.filters";

local xmlns_sasl2 = "urn:xmpp:sasl:2";
local xmlns_sasl = "urn:ietf:params:xml:ns:xmpp-sasl";
local xmlns_sm3 = "urn:xmpp:sm:3";
local xmlns_fast = "urn:xmpp:fast:0";
local xmlns_stanzas = "urn:ietf:params:xml:ns:xmpp-stanzas";

-- 1. TLS accessors on the connection object -------------------------------

local conn_methods = {
	ssl_info = function (conn)
		local sock = conn:socket();
		if sock and sock.info then return sock:info(); end
	end;
	ssl_peerfinished = function (conn)
		local sock = conn:socket();
		if sock and sock.getpeerfinished then return sock:getpeerfinished(); end
	end;
	ssl_exportkeyingmaterial = function (conn, label, len, context)
		local sock = conn:socket();
		if sock and sock.exportkeyingmaterial then
			return sock:exportkeyingmaterial(label, len, context);
		end
	end;
};

-- 2. The client's stream 'from' ---------------------------------------------

-- xmppstream's open_stream(from, to) calls session:stream_attrs(from, to, attr)
-- when the session has one; for a c2s reply 'to' is the client's 'from'.
-- Filter hooks run for every new session of every host: this one only makes
-- c2s sessions remember that value, it changes nothing on the wire.
local function remember_stream_from(session, _, to)
	session.sasl2_compat_stream_from = to;
end

local function on_new_session(session)
	if session.type == "c2s_unauthed" and session.stream_attrs == nil then
		session.stream_attrs = remember_stream_from;
	end
end
filters.add_filter_hook(on_new_session);

-- Runs before mod_sasl2 (priority 1) and mod_saslauth (0).
module:hook("stream-features", function (event)
	local origin = event.origin;
	if origin.type ~= "c2s_unauthed" then return; end
	local conn = origin.conn;
	if conn then
		for name, f in pairs(conn_methods) do
			if conn[name] == nil then conn[name] = f; end
		end
	end
	if not event.stream then
		event.stream = { from = origin.sasl2_compat_stream_from, to = origin.host };
	end
end, 10);

-- 3. Stanza methods -----------------------------------------------------------

local stanza_mt = getmetatable(st.stanza("x")).__index;
local added_stanza_methods = {};

local function add_stanza_method(name, f)
	if stanza_mt[name] == nil then
		stanza_mt[name] = f;
		added_stanza_methods[name] = f;
	end
end

add_stanza_method("get_child_attr", function (self, name, xmlns, attr)
	local child = self:get_child(name, xmlns);
	return child and child.attr[attr];
end);

-- Appends <error type=..><condition/><text/></error> to the current element.
-- Takes a util.error-like table or (type, condition, text, by).
add_stanza_method("add_error", function (self, err_type, condition, text, by)
	if type(err_type) == "table" then
		local e = err_type;
		err_type, condition, text = e.type, e.condition, e.text;
		if type(e.context) == "table" and type(e.context.by) == "string" then
			by = e.context.by;
		end
	end
	self:tag("error", { type = err_type or "cancel", by = by })
		:tag(condition or "undefined-condition", { xmlns = xmlns_stanzas }):up();
	if text then
		self:text_tag("text", text, { xmlns = xmlns_stanzas });
	end
	return self:up();
end);

-- 4. util.datetime with fractional seconds -------------------------------------

local replaced_datetime = {};
for _, name in ipairs({ "date", "datetime", "time" }) do
	local original = datetime[name];
	if type(original) == "function" and not pcall(original, 0.5) then
		datetime[name] = function (t, ...)
			if type(t) == "number" then t = math.floor(t); end
			return original(t, ...);
		end;
		replaced_datetime[name] = original;
	end
end

function module.unload()
	filters.remove_filter_hook(on_new_session);
	for name, f in pairs(added_stanza_methods) do
		if stanza_mt[name] == f then stanza_mt[name] = nil; end
	end
	for name, original in pairs(replaced_datetime) do
		datetime[name] = original;
	end
end

-- 5. mod_smacks.do_enable / do_resume ------------------------------------------

local smacks = module:depends("smacks");
local c2s_sessions = module:shared("/*/c2s/sessions"); -- conn -> session

-- Calls f() with session.send swapped for a function that only records what
-- is sent; returns the recorded elements, the real send and the capturer.
local function with_captured_sends(session, f)
	local sent, real_send = {}, session.send;
	local function capture(el) sent[#sent+1] = el; return true; end
	session.send = capture;
	local ok, err = pcall(f);
	if not ok then
		session.send = real_send;
		error(err, 0);
	end
	return sent, real_send, capture;
end

local function first_child_name(el)
	local child = el and el.tags[1];
	return child and child.name;
end

if rawget(smacks, "do_enable") == nil then
	-- Returns { type, id, resume_max, session, finish } or nil, util.error.
	-- 0.12 enables right away (counters start at 0 now); nothing is queued
	-- before <success/> goes out, so finish() has nothing left to do.
	function smacks.do_enable(session, request)
		local sent, real_send = with_captured_sends(session, function ()
			smacks.handle_enable(session, request, xmlns_sm3);
		end);
		session.send = real_send;
		local answer = sent[1];
		if not (answer and answer.name == "enabled") then
			return nil, errors.new({ type = "cancel",
				condition = first_child_name(answer) or "undefined-condition" });
		end
		return {
			type = "enabled";
			id = answer.attr.id;
			resume_max = answer.attr.max;
			session = session;
			finish = function () end;
		};
	end
end

if rawget(smacks, "do_resume") == nil then
	-- 0.12's handle_resume moves the new connection into the hibernating
	-- session and immediately sends <resumed/>, the unacked stanzas and <r/>.
	-- mod_sasl2_sm wants <resumed/> inside <success/> and the rest after it,
	-- so everything is held back and replayed by finish().
	function smacks.do_resume(session, request)
		local conn = session.conn;
		local sent, real_send, capture = with_captured_sends(session, function ()
			smacks.handle_resume(session, request, xmlns_sm3);
		end);
		-- handle_resume points the connection at the session it resumed.
		local original = c2s_sessions[conn];
		if original == session then original = nil; end
		local answer = sent[1];
		if not (answer and answer.name == "resumed" and original) then
			session.send = real_send;
			if original and original.send == capture then
				original.send = real_send;
			end
			local h = answer and tonumber(answer.attr.h);
			return nil, errors.new({ type = "cancel",
				condition = first_child_name(answer) or "undefined-condition" }, { h = h });
		end
		-- handle_resume gave the original session our capturing send (the
		-- new session's send at the time). Give it the real one, pointed at
		-- the original session the way mod_smacks repoints it (Prosody lets
		-- a function's upvalues be assigned like fields).
		original.send = real_send;
		real_send.session = original;
		-- The rest of the SASL2 success chain works on the original session:
		-- hand it what this authentication negotiated, not the stale values
		-- of its first login.
		original.sasl_handler = session.sasl_handler;
		original.client_id = session.client_id;
		original.fast_token_request = session.fast_token_request;
		return {
			type = "resumed";
			id = request.attr.previd;
			session = original;
			finish = function ()
				-- Already in the queue: don't let the smacks filter add them again.
				original.resending_unacked = true;
				for i = 2, #sent do real_send(sent[i]); end
				original.resending_unacked = nil;
			end;
		};
	end
end

-- 6. <authenticate/> guards and tls-exporter for FAST ---------------------------

local ht_channel_binding = { NONE = false, UNIQ = "tls-unique",
	ENDP = "tls-server-end-point", EXPR = "tls-exporter" };

local function tls_exporter(handler)
	local conn = handler.userdata and handler.userdata["tls-exporter"];
	return conn and conn:ssl_exportkeyingmaterial("EXPORTER-Channel-Binding", 32, "");
end

local function send_failure(session, condition, text)
	local failure = st.stanza("failure", { xmlns = xmlns_sasl2 })
		:tag(condition, { xmlns = xmlns_sasl }):up();
	if text then failure:text_tag("text", text); end
	session.send(failure);
	return true;
end

-- Priority 200: before mod_sasl2_fast/bind2/sm (100) and mod_sasl2 (0).
module:hook_tag(xmlns_sasl2, "authenticate", function (session, auth)
	local mechanism = auth.attr.mechanism;
	if not mechanism then
		return send_failure(session, "malformed-request", "Missing mechanism attribute");
	end
	local cb_suffix = mechanism:match("^HT%-.*%-(%u+)$");
	if not cb_suffix then return; end
	if not auth:get_child("initial-response") then
		return send_failure(session, "malformed-request", "HT mechanisms need an initial response");
	end
	-- The rest only matters if mod_sasl2_fast is going to take over (it
	-- needs <fast/>, a <user-agent id=...> and FAST offered on this stream).
	local handler = session.sasl_handler;
	if not (handler and session.fast_sasl_handler and auth:get_child("fast", xmlns_fast)
		and auth:get_child_attr("user-agent", nil, "id")) then
		return;
	end

	-- mod_sasl2_fast copies handler.profile.cb and handler.userdata into its
	-- own handler next. On TLS 1.3 mod_saslauth's handler has no channel
	-- binding at all; give it tls-exporter, only now, so that SCRAM (which
	-- rejects gs2 flag 'y' once any binding exists) is unaffected.
	local conn = session.conn;
	local info = conn and conn.ssl_info and conn:ssl_info();
	if info and info.protocol == "TLSv1.3" and conn:ssl_exportkeyingmaterial("EXPORTER-Channel-Binding", 32, "") then
		handler:add_cb_handler("tls-exporter", tls_exporter);
		handler.userdata = handler.userdata or {};
		handler.userdata["tls-exporter"] = conn;
	end
	local cb_name = ht_channel_binding[cb_suffix];
	if cb_name and not (handler.profile.cb and handler.profile.cb[cb_name]) then
		return send_failure(session, "invalid-mechanism",
			("Channel binding %s is not available on this connection"):format(cb_name));
	end
end, 200);

-- 7. authentication-success -------------------------------------------------------

-- Right after mod_sasl2 made the session authenticated (priority 1000).
module:hook("sasl2/c2s/success", function (event)
	module:fire_event("authentication-success", { session = event.session });
end, 999);

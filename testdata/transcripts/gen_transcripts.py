#!/usr/bin/env python3
"""Writes the transcript AMI files (NN-name.ami) of testdata/transcripts.

Each scenario below is a model of what a real Asterisk sends for one call on
a PBX built unlike ours (see NN-name.md for the sources). Header blocks follow
Asterisk's ast_manager_build_channel_state_string_prefix /
ast_manager_build_bridge_state_string_prefix (AMI 2.x, Asterisk 13-22);
uniqueids are "<creation epoch>.<counter>" as Asterisk makes them; every
event carries `Timestamp:` (timestampevents=yes) except the FullyBooted sent
at login, as real Asterisk does. The expected records (NN-name.expected.json)
are written by hand, not by this script.

Run: python3 testdata/transcripts/gen_transcripts.py
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))

STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}


class Chan:
    def __init__(self, pbx, name, t, cidnum, cidname, context, exten, linked=None,
                 state=0, clnum="<unknown>", clname="<unknown>", lang="en"):
        self.name = name
        self.uid = "%d.%d" % (int(t), pbx.next_counter())
        self.linked = linked.linked if isinstance(linked, Chan) else (linked or self.uid)
        self.state = state
        self.cidnum, self.cidname = cidnum, cidname
        self.clnum, self.clname = clnum, clname
        self.context, self.exten, self.prio = context, exten, 1
        self.lang = lang

    def block(self, p=""):
        return [
            (p + "Channel", self.name),
            (p + "ChannelState", str(self.state)),
            (p + "ChannelStateDesc", STATE_DESC[self.state]),
            (p + "CallerIDNum", self.cidnum),
            (p + "CallerIDName", self.cidname),
            (p + "ConnectedLineNum", self.clnum),
            (p + "ConnectedLineName", self.clname),
            (p + "Language", self.lang),
            (p + "AccountCode", ""),
            (p + "Context", self.context),
            (p + "Exten", self.exten),
            (p + "Priority", str(self.prio)),
            (p + "Uniqueid", self.uid),
            (p + "Linkedid", self.linked),
        ]


class Bridge:
    def __init__(self, pbx, uid):
        self.uid = uid
        self.n = 0

    def block(self, p=""):
        return [
            (p + "BridgeUniqueid", self.uid),
            (p + "BridgeType", "basic"),
            (p + "BridgeTechnology", "simple_bridge"),
            (p + "BridgeCreator", "<unknown>"),
            (p + "BridgeName", "<unknown>"),
            (p + "BridgeNumChannels", str(self.n)),
            (p + "BridgeVideoSourceMode", "none"),
        ]


class Pbx:
    def __init__(self, banner, counter, uptime=86400):
        self.out = [banner + "\r\n"]
        self.counter = counter
        self.t = None
        self.events = 0
        self.login_uptime = uptime
        self.sip_seq = {}

    def next_counter(self):
        c = self.counter
        self.counter += 1
        return c

    # --- raw output -------------------------------------------------------
    def raw(self, headers):
        self.out.append("".join("%s: %s\r\n" % (k, v) for k, v in headers) + "\r\n")

    def login(self, t):
        self.t = t
        self.raw([("Response", "Success"), ("Message", "Authentication accepted")])
        self.raw([("Event", "FullyBooted"), ("Privilege", "system,all"),
                  ("Uptime", str(self.login_uptime)), ("LastReload", str(self.login_uptime)),
                  ("Status", "Fully Booted")])

    def at(self, t):
        assert t >= self.t - 1e-9, (t, self.t)
        self.t = t
        return self

    def ev(self, name, priv, headers):
        self.t += 0.000037  # events of one instant keep their order
        self.raw([("Event", name), ("Privilege", priv),
                  ("Timestamp", "%.6f" % self.t)] + headers)

    # --- channels ---------------------------------------------------------
    def newchannel(self, name, cidnum, cidname, context, exten, linked=None, state=0):
        ch = Chan(self, name, self.t, cidnum, cidname, context, exten, linked, state)
        self.ev("Newchannel", "call,all", ch.block())
        return ch

    def newstate(self, ch, state):
        ch.state = state
        self.ev("Newstate", "call,all", ch.block())

    def newexten(self, ch, context, exten, prio, app, data):
        ch.context, ch.exten, ch.prio = context, exten, prio
        self.ev("Newexten", "dialplan,all", ch.block() + [
            ("Extension", exten), ("Application", app), ("AppData", data)])

    def varset(self, ch, var, val):
        self.ev("VarSet", "dialplan,all", ch.block() + [("Variable", var), ("Value", val)])

    def newcallerid(self, ch, num, name):
        ch.cidnum, ch.cidname = num, name
        self.ev("NewCallerid", "call,all", ch.block() + [
            ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")])

    def connected(self, ch, num, name):
        ch.clnum, ch.clname = num, name
        self.ev("NewConnectedLine", "call,all", ch.block())

    def dialbegin(self, caller, dest, dialstring):
        hs = (caller.block() if caller else []) + dest.block("Dest") + [("DialString", dialstring)]
        self.ev("DialBegin", "call,all", hs)

    def dialstate(self, caller, dest, status="RINGING"):
        hs = (caller.block() if caller else []) + dest.block("Dest") + [("DialStatus", status)]
        self.ev("DialState", "call,all", hs)

    def dialend(self, caller, dest, status):
        hs = (caller.block() if caller else []) + dest.block("Dest") + [("DialStatus", status)]
        self.ev("DialEnd", "call,all", hs)

    def bridge(self, uid):
        b = Bridge(self, uid)
        self.ev("BridgeCreate", "call,all", b.block())
        return b

    def enter(self, b, ch, swap=None):
        b.n += 1
        hs = b.block() + ch.block()
        if swap is not None:
            hs.append(("SwapUniqueid", swap.uid))
        self.ev("BridgeEnter", "call,all", hs)

    def leave(self, b, ch):
        b.n -= 1
        self.ev("BridgeLeave", "call,all", b.block() + ch.block())

    def destroy(self, b):
        self.ev("BridgeDestroy", "call,all", b.block())

    def hangup_request(self, ch, cause=16):
        self.ev("HangupRequest", "call,all", ch.block() + [("Cause", str(cause))])

    def soft_hangup_request(self, ch, cause=16):
        self.ev("SoftHangupRequest", "call,all", ch.block() + [("Cause", str(cause))])

    def hangup(self, ch, cause=16):
        txt = {16: "Normal Clearing", 26: "Answered elsewhere", 0: "Unknown",
               19: "User alerting, no answer", 17: "User busy"}[cause]
        self.ev("Hangup", "call,all", ch.block() + [("Cause", str(cause)), ("Cause-txt", txt)])

    def local_bridge(self, one, two, context, exten, optimization):
        self.ev("LocalBridge", "call,all", one.block("LocalOne") + two.block("LocalTwo") + [
            ("Context", context), ("Exten", exten),
            ("LocalOptimization", "Yes" if optimization else "No")])

    def local_opt_begin(self, one, two, source, dest_half, opid):
        self.ev("LocalOptimizationBegin", "call,all", one.block("LocalOne") + two.block("LocalTwo")
                + source.block("Source") + [("DestUniqueId", dest_half.uid), ("Id", str(opid))])

    def local_opt_end(self, one, two, opid):
        self.ev("LocalOptimizationEnd", "call,all", one.block("LocalOne") + two.block("LocalTwo")
                + [("Success", "Yes"), ("Id", str(opid))])

    def hold(self, ch):
        self.ev("Hold", "call,all", ch.block() + [("MusicClass", "default")])

    def unhold(self, ch):
        self.ev("Unhold", "call,all", ch.block())

    def moh_start(self, ch):
        self.ev("MusicOnHoldStart", "call,all", ch.block() + [("Class", "default")])

    def moh_stop(self, ch):
        self.ev("MusicOnHoldStop", "call,all", ch.block())

    def device(self, dev, state):
        self.ev("DeviceStateChange", "call,all", [("Device", dev), ("State", state)])

    def write(self, name):
        with open(os.path.join(HERE, name + ".ami"), "w", newline="") as f:
            f.write("".join(self.out))


# --- FreePBX (Asterisk 16, chan_sip) building blocks ------------------------

SIP_BANNER = "Asterisk Call Manager/5.0.1"
PJSIP20_BANNER = "Asterisk Call Manager/9.0.0"
CUSTOMER = "5511987654321"
DID = "551133334444"
NAMES = {"201": "Ana Souza", "202": "Bruno Lima", "203": "Carla Dias"}


def trunk_inbound(p, seq, did=DID, cid=CUSTOMER):
    """SIP/voipprovider-<seq> arrives in from-pstn and walks FreePBX's DID route."""
    tr = p.newchannel("SIP/voipprovider-%08x" % seq, cid, "<unknown>", "from-pstn", did, state=4)
    p.varset(tr, "SIPDOMAIN", "203.0.113.10")
    p.newexten(tr, "from-pstn", did, 1, "Set", "__DIRECTION=INBOUND")
    p.newexten(tr, "from-pstn", did, 2, "Goto", "ext-did-0002,%s,1" % did)
    p.newexten(tr, "ext-did-0002", did, 1, "Set", "__FROM_DID=%s" % did)
    p.varset(tr, "__FROM_DID", did)
    return tr


def did_to_extension(p, tr, ext, did=DID):
    p.newexten(tr, "ext-did-0002", did, 2, "Goto", "from-did-direct,%s,1" % ext)
    p.newexten(tr, "from-did-direct", ext, 1, "Macro", "exten-vm,novm,%s,0,0,0" % ext)
    p.newexten(tr, "macro-exten-vm", "s", 1, "Macro", "user-callerid,")
    p.newexten(tr, "macro-exten-vm", "s", 19, "Macro", "dial-one,,HhtrIb(func-apply-sipheaders^s^1),%s" % ext)
    p.newexten(tr, "macro-dial-one", "s", 41, "Dial", "SIP/%s,,HhtrIb(func-apply-sipheaders^s^1)" % ext)
    p.varset(tr, "DIALSTATUS", "")


def sip_phone_leg(p, seq, ext, caller, clnum, clname="<unknown>"):
    """The channel app_dial creates to ring SIP/<ext>."""
    ph = p.newchannel("SIP/%s-%08x" % (ext, seq), ext, NAMES[ext], "from-internal", "s", linked=caller)
    p.connected(ph, clnum, clname)
    return ph


def ring(p, caller, leg, dialstring):
    p.dialbegin(caller, leg, dialstring)
    if caller is not None:
        p.connected(caller, leg.cidnum, leg.cidname)
    p.newstate(leg, 5)
    p.dialstate(caller, leg)


def answer(p, caller, leg, bridge_uid, caller_already_up=False):
    p.newstate(leg, 6)
    p.dialend(caller, leg, "ANSWER")
    if not caller_already_up:
        p.newstate(caller, 6)
    b = p.bridge(bridge_uid)
    p.enter(b, leg)
    p.enter(b, caller)
    return b


def end_bridged(p, b, first, second, first_cause=16):
    """`first` hangs up (its far end sent BYE); `second` follows."""
    p.hangup_request(first, first_cause)
    p.leave(b, first)
    p.soft_hangup_request(first)
    p.leave(b, second)
    p.destroy(b)
    p.hangup(first, first_cause)
    p.hangup(second)


# --- scenarios -------------------------------------------------------------

def s01():
    p = Pbx(SIP_BANNER, 40)
    t0 = 1767261600.0  # 2026-01-01 10:00:00 UTC
    p.login(t0 - 30.0)
    p.at(t0 + 0.213)
    tr = trunk_inbound(p, 0x12)
    did_to_extension(p, tr, "201")
    ph = sip_phone_leg(p, 0x13, "201", tr, CUSTOMER)
    ring(p, tr, ph, "201")
    p.device("SIP/201", "RINGING")
    p.at(t0 + 5.514)
    b = answer(p, tr, ph, "4c1f7a2e-0b5d-4e0c-9a51-7d2f0e6b1a01")
    p.varset(tr, "BRIDGEPEER", ph.name)
    p.device("SIP/201", "INUSE")
    p.at(t0 + 68.022)
    end_bridged(p, b, tr, ph)
    p.device("SIP/201", "NOT_INUSE")
    p.write("01-chansip-inbound-answered")


def local_pair(p, name_at, seq, caller, context, exten, cid=("<unknown>", "<unknown>")):
    one = Chan(p, "Local/%s-%08x;1" % (name_at, seq), p.t, cid[0], cid[1], context, exten, caller)
    two = Chan(p, "Local/%s-%08x;2" % (name_at, seq), p.t, cid[0], cid[1], context, exten, one, state=4)
    p.ev("Newchannel", "call,all", one.block())
    p.ev("Newchannel", "call,all", two.block())
    return one, two


def s02():
    p = Pbx(SIP_BANNER, 120)
    t0 = 1767265200.0  # 11:00
    p.login(t0 - 12.0)
    p.at(t0 + 0.402)
    tr = trunk_inbound(p, 0x20)
    p.newexten(tr, "ext-did-0002", DID, 2, "Goto", "ext-group,600,1")
    p.newexten(tr, "ext-group", "600", 1, "Macro", "user-callerid,")
    p.newexten(tr, "ext-group", "600", 12, "Set", "RingGroupMethod=ringall")
    p.newexten(tr, "ext-group", "600", 20, "Macro", "dial,20,tr,201-202")
    p.newexten(tr, "macro-dial", "s", 7, "Dial", "Local/201@from-internal&Local/202@from-internal,20,tr")
    p.varset(tr, "DIALSTATUS", "")
    l1a, l1b = local_pair(p, "201@from-internal", 0x0a, tr, "from-internal", "201")
    p.connected(l1a, CUSTOMER, "<unknown>")
    l2a, l2b = local_pair(p, "202@from-internal", 0x0b, tr, "from-internal", "202")
    p.connected(l2a, CUSTOMER, "<unknown>")
    p.dialbegin(tr, l1a, "201@from-internal")
    p.local_bridge(l1a, l1b, "from-internal", "201", True)
    p.newcallerid(l1b, CUSTOMER, "<unknown>")
    p.dialbegin(tr, l2a, "202@from-internal")
    p.local_bridge(l2a, l2b, "from-internal", "202", True)
    p.newcallerid(l2b, CUSTOMER, "<unknown>")
    legs = {}
    for ext, lb in (("201", l1b), ("202", l2b)):
        p.newexten(lb, "from-internal", ext, 1, "Macro", "exten-vm,novm,%s,0,0,0" % ext)
        p.newexten(lb, "macro-dial-one", "s", 41, "Dial", "SIP/%s,,HhtrIb(func-apply-sipheaders^s^1)" % ext)
        legs[ext] = sip_phone_leg(p, 0x21 if ext == "201" else 0x22, ext, lb, CUSTOMER)
        ring(p, lb, legs[ext], ext)
    for la in (l1a, l2a):
        p.newstate(la, 5)
        p.dialstate(tr, la)
    p.at(t0 + 7.118)
    ph2 = legs["202"]
    b1 = answer(p, l2b, ph2, "9b0c52d4-5d0e-4f8e-8f62-2a3c1e7d0b02")
    # the ring group's Dial gets the answer from Local/202;1
    p.newstate(l2a, 6)
    p.dialend(tr, l1a, "CANCEL")
    p.dialend(tr, l2a, "ANSWER")
    p.newstate(tr, 6)
    b2 = p.bridge("1d7e9f30-6a41-4c55-b0a3-5e8d2f4c7a12")
    p.enter(b2, l2a)
    p.enter(b2, tr)
    # the losing Local/201 leg is hung up by app_dial
    p.hangup(l1a, 26)
    p.soft_hangup_request(l1b, 26)
    p.dialend(l1b, legs["201"], "CANCEL")
    p.hangup(legs["201"], 26)
    p.hangup(l1b, 16)
    # Local/202 optimizes away: SIP/202 is swapped into the trunk's bridge
    p.at(t0 + 7.131)
    p.local_opt_begin(l2a, l2b, ph2, l2a, 1)
    p.leave(b1, ph2)
    p.enter(b2, ph2, swap=l2a)
    p.leave(b2, l2a)
    p.leave(b1, l2b)
    p.destroy(b1)
    p.local_opt_end(l2a, l2b, 1)
    p.hangup(l2b)
    p.hangup(l2a)
    p.at(t0 + 95.804)
    end_bridged(p, b2, tr, ph2)
    p.write("02-chansip-ringgroup-local")


def phone_call(p, seq, ext, dialled, state=4):
    """A chan_sip phone starts a call: SIP/<ext>-<seq> in from-internal."""
    return p.newchannel("SIP/%s-%08x" % (ext, seq), ext, NAMES[ext], "from-internal", dialled, state=state)


def trunk_out_leg(p, seq, caller, number, callerid_name):
    """The channel app_dial creates on the trunk peer; its Context is the
    peer's context (from-pstn), as for every channel of that peer."""
    tl = p.newchannel("SIP/voipprovider-%08x" % seq, "<unknown>", "<unknown>", "from-pstn", "s", linked=caller)
    p.newcallerid(tl, number, callerid_name)
    tl.exten = number
    p.connected(tl, caller.cidnum, caller.cidname)
    return tl


def outbound_route(p, ch, number):
    p.newexten(ch, "from-internal", number, 1, "Macro", "user-callerid,LIMIT,EXTERNAL,")
    p.newexten(ch, "outbound-allroutes", number, 1, "Macro", "record-enable,201,OUT,")
    p.newexten(ch, "outrt-1", number, 5, "Macro", "dialout-trunk,1,%s,,off" % number)
    p.newexten(ch, "macro-dialout-trunk", "s", 22, "Dial", "SIP/voipprovider/%s,300,Tb(func-apply-sipheaders^s^1)" % number)
    p.varset(ch, "DIALSTATUS", "")


def s03():
    p = Pbx(SIP_BANNER, 200)
    t0 = 1767268800.0  # 12:00
    p.login(t0 - 5.0)
    p.at(t0 + 0.731)
    number = "0011987654321"
    ph = phone_call(p, 0x30, "201", number)
    outbound_route(p, ph, number)
    tl = trunk_out_leg(p, 0x31, ph, number, NAMES["201"])
    p.dialbegin(ph, tl, "voipprovider/%s" % number)
    p.connected(ph, number, "<unknown>")
    p.newstate(tl, 5)
    p.dialstate(ph, tl, "PROGRESS")
    p.dialstate(ph, tl, "RINGING")
    p.at(t0 + 9.356)
    b = answer(p, ph, tl, "f3a9c1d0-4b7e-4a11-8d3c-0e5b6a7f2c03")
    p.at(t0 + 131.910)
    end_bridged(p, b, ph, tl)
    p.write("03-chansip-outbound-phone")


def originate_response(p, ch, context, exten, action_id, cidnum, cidname):
    p.ev("OriginateResponse", "call,all", [
        ("ActionID", action_id), ("Response", "Success"), ("Channel", ch.name),
        ("Context", context), ("Exten", exten), ("Reason", "4"), ("Uniqueid", ch.uid),
        ("CallerIDNum", cidnum), ("CallerIDName", cidname)])


def s04():
    """Click-to-dial through three levels of Local channels."""
    p = Pbx(SIP_BANNER, 300)
    t0 = 1767272400.0  # 13:00
    p.login(t0 - 3.0)
    number = "0011987654321"
    p.at(t0 + 0.105)
    p.raw([("Response", "Success"), ("ActionID", "c2c-7781"), ("Message", "Originate successfully queued")])
    # Level 1: the Originate's own Local channel, ;2 rings the agent.
    l1a = Chan(p, "Local/201@from-internal-%08x;1" % 0x30, p.t, "201", "Ana Souza", "from-internal", "201", None)
    l1b = Chan(p, "Local/201@from-internal-%08x;2" % 0x30, p.t, "201", "Ana Souza", "from-internal", "201", l1a, state=4)
    l1a.clnum, l1a.clname = "201", "Ana Souza"
    p.ev("Newchannel", "call,all", l1a.block())
    p.ev("Newchannel", "call,all", l1b.block())
    p.varset(l1a, "BIGCHAT_TICKET", "7781")
    p.dialbegin(None, l1a, "201@from-internal")
    p.local_bridge(l1a, l1b, "from-internal", "201", True)
    p.newexten(l1b, "from-internal", "201", 1, "Macro", "exten-vm,novm,201,0,0,0")
    p.newexten(l1b, "macro-dial-one", "s", 41, "Dial", "SIP/201,,HhtrIb(func-apply-sipheaders^s^1)")
    ph = sip_phone_leg(p, 0x40, "201", l1b, "201", "Ana Souza")
    ring(p, l1b, ph, "201")
    p.newstate(l1a, 5)
    p.dialstate(None, l1a)
    p.at(t0 + 4.267)
    b1 = answer(p, l1b, ph, "a01b2c3d-1111-4e0c-9a51-7d2f0e6b1a04")
    p.newstate(l1a, 6)
    p.dialend(None, l1a, "ANSWER")
    p.newexten(l1a, "from-internal", number, 1, "Set", "__DIRECTION=OUTBOUND")
    originate_response(p, l1a, "from-internal", number, "c2c-7781", "201", "Ana Souza")
    # Level 2: the outbound route through a Local channel (/n: stays).
    p.newexten(l1a, "from-internal", number, 2, "Dial", "Local/%s@outbound-allroutes/n,300,T" % number)
    l2a, l2b = local_pair(p, "%s@outbound-allroutes" % number, 0x31, l1a, "outbound-allroutes", number)
    p.connected(l2a, "201", "Ana Souza")
    p.dialbegin(l1a, l2a, "%s@outbound-allroutes/n" % number)
    p.local_bridge(l2a, l2b, "outbound-allroutes", number, False)
    p.newcallerid(l2b, "201", "Ana Souza")
    p.newexten(l2b, "outbound-allroutes", number, 1, "Macro", "user-callerid,LIMIT,EXTERNAL,")
    p.newexten(l2b, "macro-dialout-trunk", "s", 22, "Dial", "Local/%s@from-trunk-dial/n,300,T" % number)
    # Level 3: the trunk's dial wrapper, another Local channel.
    l3a, l3b = local_pair(p, "%s@from-trunk-dial" % number, 0x32, l2b, "from-trunk-dial", number)
    p.connected(l3a, "201", "Ana Souza")
    p.dialbegin(l2b, l3a, "%s@from-trunk-dial/n" % number)
    p.local_bridge(l3a, l3b, "from-trunk-dial", number, False)
    p.newcallerid(l3b, "201", "Ana Souza")
    p.newexten(l3b, "from-trunk-dial", number, 1, "Dial", "SIP/voipprovider/%s,300" % number)
    tl = trunk_out_leg(p, 0x41, l3b, number, "Ana Souza")
    p.dialbegin(l3b, tl, "voipprovider/%s" % number)
    p.connected(l3b, number, "<unknown>")
    p.newstate(tl, 5)
    p.dialstate(l3b, tl)
    for caller, la in ((l2b, l3a), (l1a, l2a)):
        p.newstate(la, 5)
        p.dialstate(caller, la)
    p.at(t0 + 13.882)
    b4 = answer(p, l3b, tl, "a01b2c3d-4444-4e0c-9a51-7d2f0e6b1a04")
    p.newstate(l3a, 6)
    p.dialend(l2b, l3a, "ANSWER")
    p.newstate(l2b, 6)
    b3 = p.bridge("a01b2c3d-3333-4e0c-9a51-7d2f0e6b1a04")
    p.enter(b3, l3a)
    p.enter(b3, l2b)
    p.newstate(l2a, 6)
    p.dialend(l1a, l2a, "ANSWER")
    b2 = p.bridge("a01b2c3d-2222-4e0c-9a51-7d2f0e6b1a04")
    p.enter(b2, l2a)
    p.enter(b2, l1a)
    # Level 1 optimizes away: SIP/201 takes Local;1's place in b2.
    p.at(t0 + 13.893)
    p.local_opt_begin(l1a, l1b, ph, l1a, 2)
    p.leave(b1, ph)
    p.enter(b2, ph, swap=l1a)
    p.leave(b2, l1a)
    p.leave(b1, l1b)
    p.destroy(b1)
    p.local_opt_end(l1a, l1b, 2)
    p.hangup(l1b)
    p.hangup(l1a)
    # The customer hangs up; the hangup walks back through the Locals.
    p.at(t0 + 60.471)
    p.hangup_request(tl)
    p.leave(b4, tl)
    p.leave(b4, l3b)
    p.destroy(b4)
    p.hangup(tl)
    p.hangup(l3b)
    p.leave(b3, l3a)
    p.leave(b3, l2b)
    p.destroy(b3)
    p.hangup(l3a)
    p.hangup(l2b)
    p.leave(b2, l2a)
    p.leave(b2, ph)
    p.destroy(b2)
    p.hangup(l2a)
    p.hangup(ph)
    p.write("04-chansip-click-to-dial-three-locals")


def s05():
    """Click-to-call 201 -> 202: Originate SIP/201, exten 202."""
    p = Pbx(SIP_BANNER, 400)
    t0 = 1767276000.0  # 14:00
    p.login(t0 - 8.0)
    p.at(t0 + 0.050)
    p.raw([("Response", "Success"), ("ActionID", "c2c-7790"), ("Message", "Originate successfully queued")])
    a = Chan(p, "SIP/201-%08x" % 0x50, p.t, "201", "Ana Souza", "from-internal", "s", None)
    a.clnum, a.clname = "201", "Ana Souza"
    p.ev("Newchannel", "call,all", a.block())
    p.dialbegin(None, a, "201")
    p.newstate(a, 5)
    p.dialstate(None, a)
    p.at(t0 + 3.402)
    p.newstate(a, 6)
    p.dialend(None, a, "ANSWER")
    p.newexten(a, "from-internal", "202", 1, "Macro", "exten-vm,novm,202,0,0,0")
    originate_response(p, a, "from-internal", "202", "c2c-7790", "201", "Ana Souza")
    p.newexten(a, "macro-dial-one", "s", 41, "Dial", "SIP/202,,HhtrIb(func-apply-sipheaders^s^1)")
    b_leg = sip_phone_leg(p, 0x51, "202", a, "201", "Ana Souza")
    ring(p, a, b_leg, "202")
    p.at(t0 + 8.655)
    br = answer(p, a, b_leg, "b05c0ffe-0000-4e0c-9a51-7d2f0e6b1a05", caller_already_up=True)
    p.at(t0 + 40.120)
    end_bridged(p, br, b_leg, a)
    p.write("05-chansip-click-to-call-internal")


def inbound_to_201_answered(p, t0, seq, bridge_uid, ring_s=4.0):
    p.at(t0)
    tr = trunk_inbound(p, seq)
    did_to_extension(p, tr, "201")
    ph = sip_phone_leg(p, seq + 1, "201", tr, CUSTOMER)
    ring(p, tr, ph, "201")
    p.at(t0 + ring_s)
    b = answer(p, tr, ph, bridge_uid)
    return tr, ph, b


def consult(p, seq, bridge_uid=None, answer_at=None):
    """201's phone places the consultation call to 202 (its own Linkedid)."""
    c = phone_call(p, seq, "201", "202")
    p.newexten(c, "from-internal", "202", 1, "Macro", "exten-vm,novm,202,0,0,0")
    p.newexten(c, "macro-dial-one", "s", 41, "Dial", "SIP/202,,HhtrIb(func-apply-sipheaders^s^1)")
    leg = sip_phone_leg(p, seq + 1, "202", c, "201", NAMES["201"])
    ring(p, c, leg, "202")
    return c, leg


def s06():
    """Attended transfer by the phone (REFER with Replaces), chan_sip."""
    p = Pbx(SIP_BANNER, 500)
    t0 = 1767279600.0  # 15:00
    p.login(t0 - 20.0)
    tr, a1, bA = inbound_to_201_answered(p, t0 + 0.330, 0x60, "6a7b8c9d-aaaa-4e0c-9a51-7d2f0e6b1a06")
    # answered at t0+4.330; 201 puts the customer on hold and calls 202
    p.at(t0 + 30.610)
    p.hold(a1)
    p.moh_start(tr)
    p.at(t0 + 31.905)
    c, leg = consult(p, 0x62)
    p.at(t0 + 35.160)
    bB = answer(p, c, leg, "6a7b8c9d-bbbb-4e0c-9a51-7d2f0e6b1a06")
    # 201 completes the transfer: bridge B merges into the customer's bridge A
    p.at(t0 + 51.044)
    p.unhold(a1)
    p.moh_stop(tr)
    p.ev("BridgeMerge", "call,all", bA.block("To") + bB.block("From"))
    p.leave(bB, c)
    p.leave(bB, leg)
    leg.linked = tr.linked  # ast_bridge_channel_update_linkedids: oldest wins
    p.enter(bA, leg)
    p.leave(bA, a1)
    p.destroy(bB)
    p.connected(tr, "202", NAMES["202"])
    p.connected(leg, CUSTOMER, "<unknown>")
    p.ev("AttendedTransfer", "call,all",
         [("Result", "Success")] + a1.block("OrigTransferer") + bA.block("OrigBridge")
         + c.block("SecondTransferer") + bB.block("SecondBridge")
         + [("DestType", "Bridge"), ("DestBridgeUniqueid", bA.uid)]
         + tr.block("Transferee") + leg.block("TransferTarget") + [("IsExternal", "Yes")])
    p.soft_hangup_request(a1)
    p.soft_hangup_request(c)
    p.hangup(a1)
    p.hangup(c)
    # 202 and the customer talk; 202 hangs up
    p.at(t0 + 142.877)
    end_bridged(p, bA, leg, tr)
    p.write("06-chansip-attended-transfer")


def s07():
    """Blonde transfer: 201 completes while 202 is still ringing."""
    p = Pbx(SIP_BANNER, 600)
    t0 = 1767283200.0  # 16:00
    p.login(t0 - 20.0)
    tr, a1, bA = inbound_to_201_answered(p, t0 + 0.120, 0x70, "7b8c9d0e-aaaa-4e0c-9a51-7d2f0e6b1a07")
    p.at(t0 + 20.450)
    p.hold(a1)
    p.moh_start(tr)
    p.at(t0 + 22.010)
    c, leg = consult(p, 0x72)
    # 202 rings; 201 transfers before 202 answers (REFER with Replaces of an
    # early dialog): the transferee's bridge gets Local/_attended@transfer;1
    # in 201's place and its ;2 half is moved into 201's consultation channel
    # (which is running Dial), as bridge.c attended_transfer_bridge() does.
    p.at(t0 + 26.730)
    p.unhold(a1)
    p.moh_stop(tr)
    la, lb = local_pair(p, "_attended@transfer", 0x0c, a1, "transfer", "_attended",
                        cid=("201", NAMES["201"]))
    p.local_bridge(la, lb, "transfer", "_attended", True)
    p.enter(bA, la, swap=a1)
    p.leave(bA, a1)
    p.moh_start(tr)  # /m: the customer hears music while 202 rings
    # masquerade (ast_channel_move): names, uniqueids and linkedids swap, so
    # the channel running Dial is now Local/..;2 (linked to the customer's
    # call) and the old SIP/201 consultation identity becomes the zombie.
    old_c = (c.name, c.uid, c.linked)
    c.name, c.uid, c.linked = lb.name, lb.uid, lb.linked
    lb.name, lb.uid, lb.linked = old_c[0] + "<ZOMBIE>", old_c[1], old_c[2]
    zombie = lb
    sip_c = Chan.__new__(Chan)
    sip_c.__dict__.update(vars(zombie))
    sip_c.name = old_c[0]
    p.ev("AttendedTransfer", "call,all",
         [("Result", "Success")] + a1.block("OrigTransferer") + bA.block("OrigBridge")
         + sip_c.block("SecondTransferer")
         + [("DestType", "App"), ("DestApp", "Dial")]
         + tr.block("Transferee") + [("IsExternal", "Yes")])
    p.soft_hangup_request(a1)
    p.hangup(a1)
    p.hangup(zombie)
    # 202 answers: app_dial bridges Local;2 (ex-consult) with SIP/202, the
    # bridge propagates the oldest linkedid (the customer's) to SIP/202, then
    # the Local pair optimizes SIP/202 into the customer's bridge.
    p.at(t0 + 33.318)
    p.newstate(leg, 6)
    p.dialend(c, leg, "ANSWER")
    p.newstate(c, 6)
    p.newstate(la, 6)
    bB = p.bridge("7b8c9d0e-bbbb-4e0c-9a51-7d2f0e6b1a07")
    leg.linked = tr.linked
    p.enter(bB, leg)
    p.enter(bB, c)
    p.moh_stop(tr)
    p.at(t0 + 33.330)
    p.local_opt_begin(la, c, leg, la, 3)
    p.leave(bB, leg)
    p.enter(bA, leg, swap=la)
    p.leave(bA, la)
    p.leave(bB, c)
    p.destroy(bB)
    p.local_opt_end(la, c, 3)
    p.hangup(c)
    p.hangup(la)
    p.connected(tr, "202", NAMES["202"])
    p.at(t0 + 101.245)
    end_bridged(p, bA, tr, leg)
    p.write("07-chansip-blonde-transfer")


def pickup_scenario(name, base_counter, t0, picker_ext, feature, app_data, seq):
    p = Pbx(SIP_BANNER, base_counter)
    p.login(t0 - 20.0)
    p.at(t0 + 0.640)
    tr = trunk_inbound(p, seq)
    did_to_extension(p, tr, "201")
    ph = sip_phone_leg(p, seq + 1, "201", tr, CUSTOMER)
    ring(p, tr, ph, "201")
    p.device("SIP/201", "RINGING")
    # the other agent dials the pickup feature code
    p.at(t0 + 6.870)
    pk = phone_call(p, seq + 2, picker_ext, feature)
    p.newexten(pk, "from-internal", feature, 1, "Macro", "user-callerid,")
    p.newexten(pk, "app-pickup" if feature.startswith("**") else "app-pickup-group", feature, 3,
               "Pickup", app_data)
    p.newstate(pk, 6)
    p.connected(pk, CUSTOMER, "<unknown>")
    p.ev("Pickup", "call,all", pk.block() + ph.block("Target"))
    # ast_do_pickup -> ast_channel_move(target, picker): the ringing leg takes
    # the picker's name, uniqueid and linkedid; the old identity is a zombie.
    zombie = Chan.__new__(Chan)
    zombie.__dict__.update(vars(ph))
    zombie.name = ph.name + "<ZOMBIE>"
    live = Chan.__new__(Chan)
    live.__dict__.update(vars(pk))
    live.state = 6
    live.context, live.exten, live.prio = "from-internal", "s", 1
    p.newstate(live, 6)
    p.dialend(tr, live, "ANSWER")
    p.newstate(tr, 6)
    b = p.bridge("8c9d0e1f-%s-4e0c-9a51-7d2f0e6b1a08" % ("aaaa" if feature.startswith("**") else "bbbb"))
    live.linked = tr.linked
    p.enter(b, live)
    p.enter(b, tr)
    p.hangup(zombie, 26)
    p.device("SIP/201", "NOT_INUSE")
    p.device("SIP/%s" % picker_ext, "INUSE")
    p.at(t0 + 79.505)
    end_bridged(p, b, tr, live)
    p.write(name)


def s08():
    pickup_scenario("08-chansip-directed-pickup", 700, 1767286800.0, "202", "**201", "201@PICKUPMARK", 0x80)


def s09():
    pickup_scenario("09-chansip-group-pickup", 800, 1767290400.0, "203", "*8", "", 0x90)


def s10():
    """Inbound to 201 whose unconditional call forward sends it to a mobile."""
    p = Pbx(SIP_BANNER, 900)
    t0 = 1767294000.0  # 19:00
    mobile = "5511911112222"
    p.login(t0 - 20.0)
    p.at(t0 + 0.275)
    tr = trunk_inbound(p, 0xa0)
    p.newexten(tr, "ext-did-0002", DID, 2, "Goto", "from-did-direct,201,1")
    p.newexten(tr, "from-did-direct", "201", 1, "Macro", "exten-vm,novm,201,0,0,0")
    p.newexten(tr, "macro-exten-vm", "s", 19, "Macro", "dial-one,,tr,201")
    p.newexten(tr, "macro-dial-one", "s", 4, "GotoIf", "1?cf:nocf")
    p.varset(tr, "CFUEXT", mobile)
    p.newexten(tr, "macro-dial-one", "cf", 2, "Dial", "Local/%s@from-internal/n,,tr" % mobile)
    la, lb = local_pair(p, "%s@from-internal" % mobile, 0x0d, tr, "from-internal", mobile)
    p.connected(la, CUSTOMER, "<unknown>")
    p.dialbegin(tr, la, "%s@from-internal/n" % mobile)
    p.local_bridge(la, lb, "from-internal", mobile, False)
    p.newcallerid(lb, CUSTOMER, "<unknown>")
    outbound_route(p, lb, mobile)
    tl = trunk_out_leg(p, 0xa1, lb, mobile, "<unknown>")
    p.dialbegin(lb, tl, "voipprovider/%s" % mobile)
    p.connected(lb, mobile, "<unknown>")
    p.newstate(tl, 5)
    p.dialstate(lb, tl)
    p.newstate(la, 5)
    p.dialstate(tr, la)
    p.at(t0 + 12.693)
    b2 = answer(p, lb, tl, "9d0e1f2a-bbbb-4e0c-9a51-7d2f0e6b1a10")
    p.newstate(la, 6)
    p.dialend(tr, la, "ANSWER")
    p.newstate(tr, 6)
    b1 = p.bridge("9d0e1f2a-aaaa-4e0c-9a51-7d2f0e6b1a10")
    p.enter(b1, la)
    p.enter(b1, tr)
    # the mobile hangs up
    p.at(t0 + 83.168)
    p.hangup_request(tl)
    p.leave(b2, tl)
    p.leave(b2, lb)
    p.destroy(b2)
    p.hangup(tl)
    p.hangup(lb)
    p.leave(b1, la)
    p.leave(b1, tr)
    p.destroy(b1)
    p.hangup(la)
    p.newexten(tr, "macro-dial-one", "h", 1, "Macro", "hangupcall,")
    p.hangup(tr)
    p.write("10-chansip-call-forward-external")


def s11():
    """Agent-to-agent call 201 -> 202, answered."""
    p = Pbx(SIP_BANNER, 1000)
    t0 = 1767297600.0  # 20:00
    p.login(t0 - 20.0)
    p.at(t0 + 0.905)
    c = phone_call(p, 0xb0, "201", "202")
    p.newexten(c, "from-internal", "202", 1, "Macro", "exten-vm,novm,202,0,0,0")
    p.newexten(c, "macro-dial-one", "s", 41, "Dial", "SIP/202,,HhtrIb(func-apply-sipheaders^s^1)")
    leg = sip_phone_leg(p, 0xb1, "202", c, "201", NAMES["201"])
    ring(p, c, leg, "202")
    p.at(t0 + 3.917)
    b = answer(p, c, leg, "0e1f2a3b-aaaa-4e0c-9a51-7d2f0e6b1a11")
    p.at(t0 + 50.399)
    end_bridged(p, b, c, leg)
    p.write("11-chansip-internal-call")


def pjsip_inbound(p, seq, did, cid):
    tr = p.newchannel("PJSIP/telnyx-%08x" % seq, cid, "<unknown>", "from-external", did, state=4)
    p.varset(tr, "SIPDOMAIN", "sip.telnyx.com")
    p.newexten(tr, "from-external", did, 1, "NoOp", "Inbound %s" % did)
    p.newexten(tr, "from-external", did, 2, "Set", "CALLERID(name)=%s" % cid)
    p.newcallerid(tr, cid, cid)
    p.newexten(tr, "from-external", did, 3, "Dial", "PJSIP/alice,20")
    p.varset(tr, "DIALSTATUS", "")
    leg = p.newchannel("PJSIP/alice-%08x" % (seq + 1), "101", "Alice", "phones", "", linked=tr)
    p.connected(leg, cid, cid)
    ring(p, tr, leg, "alice")
    return tr, leg


def s12():
    p = Pbx(PJSIP20_BANNER, 63)
    t0 = 1767301200.0  # 21:00
    p.login(t0 - 20.0)
    p.at(t0 + 0.318)
    tr, leg = pjsip_inbound(p, 0x3f, "+551133334444", "+5511987654321")
    p.at(t0 + 6.822)
    b = answer(p, tr, leg, "1f2a3b4c-aaaa-4e0c-9a51-7d2f0e6b1a12")
    p.at(t0 + 44.137)
    end_bridged(p, b, tr, leg)
    p.write("12-pjsip-telnyx-inbound-answered")


def s13():
    p = Pbx(PJSIP20_BANNER, 70)
    t0 = 1767304800.0  # 22:00
    p.login(t0 - 20.0)
    p.at(t0 + 0.544)
    tr, leg = pjsip_inbound(p, 0x46, "+551133334444", "+5511955554444")
    p.at(t0 + 20.649)
    p.dialend(tr, leg, "NOANSWER")
    p.hangup(leg, 0)
    p.varset(tr, "DIALSTATUS", "NOANSWER")
    p.newexten(tr, "from-external", "+551133334444", 4, "Hangup", "")
    p.soft_hangup_request(tr)
    p.hangup(tr)
    p.write("13-pjsip-telnyx-inbound-no-answer")


if __name__ == "__main__":
    for f in (s01, s02, s03, s04, s05, s06, s07, s08, s09, s10, s11, s12, s13):
        f()

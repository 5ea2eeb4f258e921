#!/usr/bin/env python3
"""Writes NN-name.expected.json: the judged records (fields written by hand below),
with times taken from the named events of the transcript (the designed instants)."""
import json, re, os
D = os.path.dirname(os.path.abspath(__file__))
def times(name):
    """(event, headers) list with Timestamp."""
    data = open(os.path.join(D, name + ".ami"), "rb").read().decode().split("\r\n\r\n")
    out = []
    for blk in data:
        h = {}
        for l in blk.split("\r\n"):
            if ": " in l:
                k, v = l.split(": ", 1); h.setdefault(k, v)
        if "Event" in h: out.append(h)
    return out
def t_of(name, pred, last=False):
    evs = [e for e in times(name) if pred(e)]
    e = evs[-1] if last else evs[0]
    return float(e["Timestamp"])
def rnd(x): return round(x, 6)
SIP_TUNED = {"trunks": ["SIP/voipprovider"], "inboundContexts": ["from-pstn"], "extensions": ["_2XX"], "internalCalls": True}
PJ_TUNED = {"trunks": ["PJSIP/telnyx"], "inboundContexts": ["from-external"], "extensions": ["_1XX"], "internalCalls": True}
def call(name, linkedid, answered=True, **fields):
    evs = times(name)
    mine = [e for e in evs if e.get("Linkedid") == linkedid or e.get("Uniqueid") == linkedid]
    start = float([e for e in evs if e["Event"] == "Newchannel" and e["Uniqueid"] == linkedid][0]["Timestamp"])
    c = {"uniqueId": linkedid}
    c.update(fields)
    c["startedAt"] = rnd(start)
    return c
def write(name, tuned, untuned, tuned_calls):
    with open(os.path.join(D, name + ".expected.json"), "w") as f:
        json.dump({"tuned": tuned, "untuned": untuned, "tunedCalls": tuned_calls}, f, indent=2)
        f.write("\n")
import math
def ts(name, **match):
    last = match.pop("_last", False)
    evs = [e for e in times(name) if all(e.get(k) == v for k, v in match.items())]
    assert evs, (name, match)
    return float((evs[-1] if last else evs[0])["Timestamp"])
def rec(name, uid, answer=None, end=None, hold=0, holdspan=None, with_talk=True, **fields):
    start = ts(name, Event="Newchannel", Uniqueid=uid)
    end_t = ts(name, _last=True, Event="Hangup") if end is None else ts(name, **end)
    c = {"uniqueId": uid}
    c.update(fields)
    c["startedAt"] = rnd(start)
    c["endedAt"] = rnd(end_t)
    c["duration"] = math.floor(end_t - start)
    if answer is None:
        c["answeredAt"] = None
        c["talkTime"] = 0
        c["holdTime"] = 0
    else:
        a = ts(name, **answer)
        c["answeredAt"] = rnd(a)
        if with_talk:
            h = 0.0
            if holdspan:
                h = ts(name, **holdspan[1]) - ts(name, **holdspan[0])
            c["holdTime"] = math.floor(h)
            talk = end_t - a - h
            assert math.floor(talk) == math.floor(end_t - a) - math.floor(h), (name, talk, h)
            c["talkTime"] = math.floor(talk)
    return c

IN = dict(direction="inbound", callerId="5511987654321", calledNumber="551133334444",
          contactNumber="5511987654321", queue=None)

# 01
n = "01-chansip-inbound-answered"
a = rec(n, "1767261600.40", answer=dict(Event="DialEnd", DialStatus="ANSWER"), status="completed", agentExtension="201", **IN)
write(n, SIP_TUNED, [a], [a])
# 02
n = "02-chansip-ringgroup-local"
a = rec(n, "1767265200.120", answer=dict(Event="DialEnd", DialStatus="ANSWER", Channel="SIP/voipprovider-00000020"),
        status="completed", agentExtension="202", **IN)
write(n, SIP_TUNED, [a], [a])
# 03
n = "03-chansip-outbound-phone"
a = rec(n, "1767268800.200", answer=dict(Event="DialEnd", DialStatus="ANSWER", DestChannel="SIP/voipprovider-00000031"),
        status="completed", direction="outbound", callerId="201", calledNumber="0011987654321",
        contactNumber="0011987654321", agentExtension="201", queue=None)
write(n, SIP_TUNED, [a], [a])
# 04
n = "04-chansip-click-to-dial-three-locals"
a = rec(n, "1767272400.300", answer=dict(Event="DialEnd", DialStatus="ANSWER", DestChannel="SIP/voipprovider-00000041"),
        status="completed", direction="outbound", callerId="201", calledNumber="0011987654321",
        contactNumber="0011987654321", agentExtension="201", queue=None)
write(n, SIP_TUNED, [a], [a])
# 05
n = "05-chansip-click-to-call-internal"
a = rec(n, "1767276000.400", answer=dict(Event="DialEnd", DialStatus="ANSWER", DestChannel="SIP/202-00000051"),
        status="completed", direction="outbound", callerId="201", calledNumber="202",
        agentExtension="201", queue=None)
write(n, SIP_TUNED, [a], [a])
# 06
n = "06-chansip-attended-transfer"
a = rec(n, "1767279600.500", answer=dict(Event="DialEnd", DialStatus="ANSWER", DestChannel="SIP/201-00000061"),
        holdspan=(dict(Event="Hold"), dict(Event="MusicOnHoldStop")),
        status="completed", agentExtension="202", **IN)
b = rec(n, "1767279631.502", answer=dict(Event="DialEnd", DialStatus="ANSWER", DestChannel="SIP/202-00000063"),
        end=dict(Event="Hangup", Channel="SIP/201-00000062"),
        status="completed", direction="internal", callerId="201", calledNumber="202", contactNumber="", queue=None)
write(n, SIP_TUNED, [a], [a, b])
# 07
n = "07-chansip-blonde-transfer"
a = rec(n, "1767283200.600", answer=dict(Event="DialEnd", DialStatus="ANSWER", DestChannel="SIP/201-00000071"),
        with_talk=False, status="completed", agentExtension="202", **IN)
b = {"uniqueId": "1767283222.602", "direction": "internal", "callerId": "201", "calledNumber": "202", "contactNumber": "", "queue": None}
write(n, SIP_TUNED, [a], [a, b])
# 08, 09
for n, uid, picker in (("08-chansip-directed-pickup", "1767286800.700", "202"), ("09-chansip-group-pickup", "1767290400.800", "203")):
    a = rec(n, uid, answer=dict(Event="DialEnd", DialStatus="ANSWER"), status="completed", agentExtension=picker, **IN)
    write(n, SIP_TUNED, [a], [a])
# 10
n = "10-chansip-call-forward-external"
a = rec(n, "1767294000.900", answer=dict(Event="DialEnd", DialStatus="ANSWER", DestChannel="SIP/voipprovider-000000a1"),
        status="completed", **IN)
write(n, SIP_TUNED, [a], [a])
# 11
n = "11-chansip-internal-call"
a = rec(n, "1767297600.1000", answer=dict(Event="DialEnd", DialStatus="ANSWER"),
        status="completed", direction="internal", callerId="201", calledNumber="202", contactNumber="", queue=None)
write(n, SIP_TUNED, [], [a])
# 12, 13
PIN = dict(direction="inbound", calledNumber="+551133334444", queue=None)
n = "12-pjsip-telnyx-inbound-answered"
a = rec(n, "1767301200.63", answer=dict(Event="DialEnd", DialStatus="ANSWER"), status="completed",
        callerId="+5511987654321", contactNumber="+5511987654321", agentExtension="101", **PIN)
write(n, PJ_TUNED, [a], [a])
n = "13-pjsip-telnyx-inbound-no-answer"
a = rec(n, "1767304800.70", status="no_answer", callerId="+5511955554444", contactNumber="+5511955554444",
        agentExtension=None, **PIN)
write(n, PJ_TUNED, [a], [a])
print("written")

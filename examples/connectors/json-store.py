#!/usr/bin/env python3
"""An exec connector for polc: a "system" kept in a JSON file, as a template to copy.

polc starts this program once (`command = ["python3", "json-store.py", "store.json"]`),
writes one JSON request a line on its stdin and reads one JSON answer a line from its
stdout. Replace the four functions marked SYSTEM with calls to the real system's API.
Diagnostics go to stderr: polc puts the end of it in its error messages.
"""
import json
import os
import sys

STORE = sys.argv[1] if len(sys.argv) > 1 else "store.json"


def load():
    # SYSTEM: read what the system holds.
    try:
        with open(STORE) as f:
            return json.load(f)
    except FileNotFoundError:
        return {"grants": [], "accounts": {}}


def save(state):
    # SYSTEM: write it back (atomically, so that a killed program leaves no half file).
    tmp = STORE + ".tmp"
    with open(tmp, "w") as f:
        json.dump(state, f)
    os.replace(tmp, STORE)


def held(state, user_id, grant):
    return [g["level"] for g in state["grants"] if g["user_id"] == user_id and g["grant"] == grant]


def answer(request, state):
    op = request.get("op")
    user = request.get("user_id")
    grant = request.get("grant")
    level = request.get("level")
    if op == "list":
        accounts = [{"user_id": u, "active": a} for u, a in sorted(state["accounts"].items())]
        return {"grants": state["grants"], "accounts": accounts}
    if op == "read":
        levels = held(state, user, grant) if grant is not None else []
        return {"levels": levels, "active": state["accounts"].get(user)}
    if op == "grant":
        if level in held(state, user, grant):
            return {"ok": True, "already": "present"}
        state["accounts"].setdefault(user, True)  # the account is made on the first grant
        state["grants"].append({"user_id": user, "grant": grant, "level": level})
        save(state)
        return {"ok": True}
    if op == "revoke":
        if not held(state, user, grant):
            return {"ok": True, "already": "absent"}
        state["grants"] = [g for g in state["grants"] if not (g["user_id"] == user and g["grant"] == grant)]
        save(state)
        return {"ok": True}
    if op == "set_level":
        levels = held(state, user, grant)
        if level in levels and request.get("from_level") not in levels:
            return {"ok": True, "already": "present"}
        if level not in levels:  # the new level first, then the old one goes
            state["grants"].append({"user_id": user, "grant": grant, "level": level})
        state["grants"] = [
            g for g in state["grants"]
            if not (g["user_id"] == user and g["grant"] == grant and g["level"] == request.get("from_level") != level)
        ]
        save(state)
        return {"ok": True}
    if op == "deprovision":
        mode = request.get("mode")
        if user not in state["accounts"]:
            return {"ok": True, "already": "absent"}
        if mode == "keep":
            return {"ok": True, "already": "present"}
        if mode == "deactivate":
            if state["accounts"][user] is False:
                return {"ok": True, "already": "absent"}
            state["accounts"][user] = False
        elif mode == "delete":
            del state["accounts"][user]
            state["grants"] = [g for g in state["grants"] if g["user_id"] != user]
        save(state)
        return {"ok": True}
    if op == "reactivate":
        if user not in state["accounts"]:
            return {"ok": True, "already": "absent"}
        if state["accounts"][user]:
            return {"ok": True, "already": "present"}
        state["accounts"][user] = True
        save(state)
        return {"ok": True}
    return {"ok": False, "error": f"unknown op {op!r}", "retry": False}


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            reply = answer(json.loads(line), load())
        except Exception as e:  # a failure of the system: worth a retry
            print(f"json-store: {e!r}", file=sys.stderr)
            reply = {"ok": False, "error": str(e), "retry": True}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()

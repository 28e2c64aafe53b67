"""The FAIRDRAW-1 section 12 test vector, and a kit built around it."""

import datetime
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import lottery.fairdraw as fairdraw

REPO = Path(__file__).resolve().parents[3]
UTC = datetime.UTC
DRAW_ID = "TEST-75-TS-0001"
R_ANTS = hashlib.sha256(b"example secret of party ANTS").digest()
R_DDD = hashlib.sha256(b"example secret of party DDD").digest()
BEACON_ROUND = 657413
SIGNATURE = (
    "b713718a38ae728dfd477991af2822e08d2f305e47718cef9f7848ce4050e7be"
    "41076862b98fad56e91a6b85b89cd97b"
)

ENTRIES_CSV = b"""entry_id,tier,weight,procedure,sites,excluded_weekdays
0b3f6c2a9d1e4f5a8b7c6d5e4f3a2b1c,1,1,TS,,
1c9e0d8f7a6b5c4d3e2f1a0b9c8d7e6f,1,3,TS,,3
2a4b6c8d0e1f3a5b7c9d1e3f5a7b9c1d,0,1,TS,P75|P92,
3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c,1,2,NAT,,15
4d5c6b7a8f9e0d1c2b3a4f5e6d7c8b9a,1,4,TS,P92,
5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b,1,2,NAT,,
6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d,1,1,TS,,245
7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f,1,2,TS,,
"""

SLOTS_CSV = b"""slot_id,site,procedure,date,start
S0001,P75,TS,2025-07-01,09:00
S0002,P92,TS,2025-07-01,09:00
S0003,P75,NAT,2025-07-01,09:30
S0004,P75,TS,2025-07-02,10:00
S0005,P92,TS,2025-07-03,14:00
"""

RESULTS_CSV = b"""rank,entry_id,tier,weight,key,slot_id
1,2a4b6c8d0e1f3a5b7c9d1e3f5a7b9c1d,0,1,2518d082ae8b0ce05bff03a74dea3e38ed1c6224bac1f546b552d0a8d91dd22e,S0001
2,3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c,1,2,f551cf317176feeb5ce84e2395e73b87529f5ab6e77dbe7996edf1663abbd047,S0003
3,0b3f6c2a9d1e4f5a8b7c6d5e4f3a2b1c,1,1,de8704dcc5b0a5fa5a06b485d123c3cf526bfd8606f19651caeaab9120d577d5,S0002
4,4d5c6b7a8f9e0d1c2b3a4f5e6d7c8b9a,1,4,c873b656afc9cd23c785e7da17ce3055caee10c56816b9c13e2dd50b5a20b3f5,S0005
5,5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b,1,2,be58d972ac57c55923ed191f1f63f196b6b61087c755173a2083985d0ee7553f,
6,6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d,1,1,b471bf95b962d5014ad0275bd629f05827a497ae871b3088b149fb120229aee1,S0004
7,1c9e0d8f7a6b5c4d3e2f1a0b9c8d7e6f,1,3,7256d8be830d2c8c40ecafd337cd6577d4437019faa4eb9a444bd648f5d29b1a,
8,7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f,1,2,1f28f98a15f347a12ac0f6912b413b6790e8679a5e1335292c18b43b0be2549b,
"""

EXPECTED = {
    "entries_digest": "b09aa6eec0cabf6c35464510088bc4d60550fbc7581b37e4b13077f1f5f3d66b",
    "slots_digest": "678505cd75d3a7b5d0c7bab2acfc656f487aea2ee2142a7f330d27d44c6ce1d4",
    "c_ANTS": "206e69770338d348e896023d2fa363e978f38979991b95469f913004f999f0e2",
    "c_DDD": "ca6e8374655ddea9dc517c11e776f999c0b89ea322435212d550baf9fef46237",
    "beacon_randomness": "fc1873a13f3545aeade8401532ef5519920652eee6b0d2b19ca12643b87b3587",
    "seed": "58b74471d6df3e880c384afc221e4902c58e48676da14770ceaa4d4a22a9814f",
    "seed_ddd_withheld": "12c54faf57e9e949272e93db93c0fdd64d3a0526a7c7c5b7af716e66830a2127",
    "ticket_key": "c9b5ac83d0da186e0f4252deb23563ddd5b8c7e2d827cfe80a82a9b7fbed6c9b",
    "results_digest": "f36b17a118ce0748d65004896cb974d80711612eebb414e3374b41c86f9f299e",
}

# Round 657413 is emitted at 2023-09-15T11:00:03Z, so a deadline one hour earlier makes it R.
REGISTRATION_CLOSES = datetime.datetime(2023, 9, 14, 18, 0, tzinfo=UTC)
FREEZE_AT = datetime.datetime(2023, 9, 14, 20, 0, tzinfo=UTC)
REVEAL_DEADLINE = datetime.datetime(2023, 9, 15, 10, 0, 3, tzinfo=UTC)
REVEALED_AT = datetime.datetime(2023, 9, 15, 9, 0, tzinfo=UTC)


def relay_beacon(signature: str = SIGNATURE, round_number: int = BEACON_ROUND) -> dict:
    randomness = hashlib.sha256(bytes.fromhex(signature)).hexdigest()
    return {"round": round_number, "randomness": randomness, "signature": signature}


def announcement(beacon: bool = True) -> dict:
    return fairdraw.make_announcement(
        draw_id=DRAW_ID,
        commitments={
            "ANTS": fairdraw.commitment(DRAW_ID, "ANTS", R_ANTS),
            "DDD": fairdraw.commitment(DRAW_ID, "DDD", R_DDD),
        },
        registration_closes=REGISTRATION_CLOSES,
        freeze=FREEZE_AT,
        reveal_deadline=REVEAL_DEADLINE,
        beacon=beacon,
        informative={"software": "fairslot test"},
    )


def reveals(ddd_at: datetime.datetime | None = REVEALED_AT, ddd_secret=R_DDD) -> dict:
    return fairdraw.make_reveals(
        {"ANTS": (R_ANTS, REVEALED_AT), "DDD": (ddd_secret, ddd_at)},
    )


def vector_kit(*, with_beacon: bool = True, **overrides) -> dict[str, bytes]:
    """The section 12 vector as a complete kit ({file name: bytes}); overrides go to build_kit."""
    parts = {
        "announcement": announcement(with_beacon),
        "entries_csv": ENTRIES_CSV,
        "slots_csv": SLOTS_CSV,
        "freeze": fairdraw.make_freeze(
            entries_csv=ENTRIES_CSV, slots_csv=SLOTS_CSV, published_at=FREEZE_AT
        ),
        "reveals": reveals(),
        "beacon": relay_beacon() if with_beacon else None,
    }
    parts.update(overrides)
    return fairdraw.build_kit(**parts)


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m lottery.fairdraw ARGS`` from the repository root, as an auditor runs it."""
    return subprocess.run(
        [sys.executable, "-m", "lottery.fairdraw", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )

"""Pinterest-style data pipeline, one subpackage per stage in the order data flows.

Batch (daily)::

    source ① → emulator ② ─POST /topics/<prefix>.<kind>→ gateway ③ → kafka ④ (broker → sink) ─┐
                                                                   └→ lake ④ (lake writer) ←───┘
    lake ④ → batch ⑤ (over spark) → Delta tables, insights, report      orchestration ⑥ runs ⑤ @daily

Streaming::

    source ① → emulator ② ─PUT /streams/<stream>/record→ gateway ③ → kinesis ④′ → streaming ⑤′ (over spark)
                                                                                   → Delta tables

``contract`` holds what every stage agrees on (columns, names, the JSON of a record; docs/data-contract.md),
``config`` the one settings object. ``spark`` is shared by ⑤ and ⑤′; ``demo`` is the local harness.
"""

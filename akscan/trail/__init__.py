"""`akscan trail`: which AccessKeys ActionTrail saw in use, from where, and what to do about them.

The data flows one way: `reader` (bytes to JSON records) -> `events` (records to calls) ->
`aggregate` (calls to bounded per-key counters) -> `report` (counters plus the user's lists to
the report document) -> `render` (text, JSON, CSV).
"""

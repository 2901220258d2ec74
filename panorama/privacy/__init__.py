"""Personal data at rest, the right to erasure and to access, consent.

* ``crypto`` / ``fields`` / ``keystore``: every personal field (tagged ``"pii"`` in the
  contract) is sealed with AES-256-GCM under a data key of its customer's routing identity,
  wrapped by ``CDP_MASTER_KEY`` in Redis; ``hooks``: the producer seals, consumers open.
* ``forget`` (``cdp privacy forget``): crypto-shredding plus physical erasure of the
  projections; ``export`` (``cdp privacy export``); ``consent``: :func:`consent_allows`,
  per purpose, channel and (sharing, transfer abroad) recipient and region;
  ``retention`` (``cdp privacy retention``): expiry per event type.

A forget acts in one workspace (``CDP_TOPIC_PREFIX``): its key store, topics, Redis
namespace and analytics store. A customer known to two workspaces is forgotten in each.

What remains after ``forget`` and why it no longer identifies the person:

* In Kafka, the customer's past events stay (the log is never rewritten; they leave only
  with the topic's retention, which is per topic, not per event type): their personal
  fields are ciphertext whose key no longer exists anywhere (AES-256-GCM: unreadable),
  their message keys and the ``subject`` inside each sealed value are keyed BLAKE2b hashes
  of the identities (unlinkable without ``CDP_ROUTING_KEY_SECRET`` *and* the plaintext
  identity), and their non-personal fields (type, time, amounts, SKUs, ids that the
  contract does not tag, such as ``user_id``) remain attached to those hashes. Sealed DLQ
  copies are shredded the same way and expire with the DLQ's retention.
* The workers' records published before the forget on ``<prefix>.signals``,
  ``.identity``, ``.profiles`` and ``.segments`` (retained like the log): they name the
  customer id (a keyed hash) and only non-personal content (stage, counts, amounts,
  segment ids, non-personal traits). Nothing is published about a forgotten customer
  afterwards, and the record sink skips the earlier ones, so a replay does not bring the
  rows back.
* The forgotten list (``{ns}:privacy:forgotten``): those same keyed hashes with the time of
  the forget, needed to refuse the identities' future events and to keep replays from
  rebuilding the customer; no plaintext, no profile.
* The audit log: the request (actor, reason, time, counts) under the customer id, itself
  a keyed hash; accountability requires it.
* The customer's consent statements go with its profile; other profiles' consent entries
  may name recipients (companies, never people).
* Redis: no key named after the customer's nodes (deleted, AOF rewritten). Values of
  other keys may still mention a node id (a keyed hash): another customer's link-decision
  log, a signals due-set entry.
* ClickHouse: no row (deleted by mutation, parts merged, replaced parts removed from disk,
  aggregates of the touched days rebuilt without the customer); the mutation's own text
  (``mutation_N.txt``, ``system.mutations``) lists the customer's keyed hashes.

Which events a forget erases — one rule for every reader (the profile worker, the
analytics sink, replays, export: :func:`panorama.privacy.hooks.erased_by_forget`): those
of a forgotten subject that the platform *received* (``received_at``) up to the time of
the forget. ``received_at`` and not the Kafka timestamp, because the forget erases what the
platform held when the person asked, and an event accepted before that (the collector
answered 2xx) but delayed on its way into Kafka (a retried delivery, a paused import) was
already held; the Kafka timestamp says when a producer got around to sending it, which
no one asked about. ``received_at`` is stamped by the platform's own connectors, never
taken from the client. The analytics sink, which does not decode in Python, decodes only
the messages keyed by a forgotten subject (rare) to read it.

Not erased by a forget: identifiers the contract does not tag ``"pii"`` (``user_id``,
``anonymous_id``, ``device_id``, ``external_ids``, free-form ``properties``) stay in clear
in the log's events. Tagging them in the ``.avsc`` is enough for this package to seal
them too.
"""

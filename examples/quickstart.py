"""redpocket quickstart: Redis commands on the embedded engine, no server needed.

    python examples/quickstart.py

``redpocket.connect()`` returns a redis-py client whose commands run in an
engine inside this process; point it at ``redis://localhost:6379/0`` instead
and the same code talks to a Redis server.
"""

from __future__ import annotations

import redis

import redpocket


def main() -> None:
    """Walk through strings, hashes, sorted sets, lists, pipelines, transactions and Lua."""
    r = redpocket.connect(decode_responses=True)  # embedded, in memory

    r.set("greeting", "hello", ex=60)
    print("GET greeting ->", r.get("greeting"), "| TTL:", r.ttl("greeting"))
    print("INCR visits ->", r.incr("visits"), r.incr("visits"))

    r.hset("user:1", mapping={"name": "Harry Potter", "house": "Gryffindor", "age": "17"})
    print("HGETALL user:1 ->", r.hgetall("user:1"))

    r.zadd("scores", {"harry": 42, "hermione": 99, "ron": 17})
    print("top 2 ->", r.zrevrange("scores", 0, 1, withscores=True))

    r.rpush("queue", "a", "b", "c")
    print("LPOP queue ->", r.lpop("queue"), "| left:", r.lrange("queue", 0, -1))

    with r.pipeline(transaction=False) as pipe:
        for i in range(5):
            pipe.incrby("counter", i)
        print("pipeline ->", pipe.execute())

    with r.pipeline() as tx:  # MULTI/EXEC
        tx.set("a", 1).incr("a").get("a")
        print("transaction ->", tx.execute())

    add = r.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    print("Lua ->", add(keys=["counter"], args=[100]))

    try:
        r.lpush("greeting", "x")
    except redis.ResponseError as error:
        print("error reply ->", error)
    print("DBSIZE ->", r.dbsize())

    # The ORM: one hash per record, indexes kept by atomic Lua saves.
    class Wizard(redpocket.ActiveRecord):
        name = redpocket.attributes.Unicode(index="prefix")
        house = redpocket.attributes.Unicode(index=True)
        age = redpocket.attributes.Integer(index=True)

    with redpocket.pipeline() as pipe:  # three saves, one round trip
        for name, house, age in [("Harry", "Gryffindor", 17), ("Ron", "Gryffindor", 17), ("Draco", "Slytherin", 18)]:
            Wizard.create(name=name, house=house, age=age, pipe=pipe)
    gryffindors = Wizard.objects.filter(house="Gryffindor").order_by("name")
    print("ORM ->", [w.name for w in gryffindors], "| older than 17:", Wizard.objects.filter(age__gt=17).count())

    # Pipelines with deferred results, and typed keyspaces.
    class Followers(redpocket.SortedSet):
        namespace = "F"
        value_type = "text"

    with redpocket.pipeline() as pipe:
        followers = Followers("harry", pipe=pipe)
        followers.zadd("ron", score=1)
        followers.zadd("hermione", score=2)
        members = followers.zrange(0, -1)
    print("keyspace F{harry} ->", members.result)


if __name__ == "__main__":
    main()

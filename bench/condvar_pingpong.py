"""Two CPython threads hand a turn back and forth through threading.Condition
(a pthread mutex and condvar under the GIL's own mutex and condvar).
    python3 bench/condvar_pingpong.py [ROUNDS]
Prints the handoff count (the same on every run); the caller times it."""
import sys
import threading

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
cond = threading.Condition()
turn = [0]
done = [0]


def player(me):
    with cond:
        for _ in range(rounds):
            while turn[0] != me:
                cond.wait()
            turn[0] = 1 - me
            done[0] += 1
            cond.notify()


threads = [threading.Thread(target=player, args=(i,)) for i in (0, 1)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("handoffs", done[0])

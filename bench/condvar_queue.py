"""queue.Queue(64) with 2 producers and 4 consumers: CPython's queue waits on
threading.Condition, a pthread mutex and condvar under the GIL's own.
    python3 bench/condvar_queue.py [ITEMS]     (default 300000)
Prints the sum of the items consumed, the same under any library."""
import queue, sys, threading
n = int(sys.argv[1]) if len(sys.argv) > 1 else 300000
q = queue.Queue(64)
total = [0] * 4
def produce(start):
    for i in range(start, n, 2):
        q.put(i)
def consume(k):
    s = 0
    while True:
        v = q.get()
        if v is None:
            break
        s += v
    total[k] = s
cs = [threading.Thread(target=consume, args=(k,)) for k in range(4)]
ps = [threading.Thread(target=produce, args=(k,)) for k in range(2)]
for t in cs + ps:
    t.start()
for t in ps:
    t.join()
for _ in cs:
    q.put(None)
for t in cs:
    t.join()
print(sum(total))

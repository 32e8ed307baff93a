"""What-if validation, CPU-bound Python: build, serialize and parse JSON documents (json from the
standard library; the work holds the GIL). The same 4 x 20 items under --model
sequential|threads|processes; prints wall_ms=."""
import argparse, json, random, sys, time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

WORKERS, ITEMS = 4, 20


def work_item(seed):
    rnd = random.Random(seed)
    doc = [{"id": i, "name": "item-%d" % rnd.randrange(10**6), "tags": [rnd.random() for _ in range(8)]}
           for i in range(1500)]
    for _ in range(3):
        doc = json.loads(json.dumps(doc))
    return sum(d["id"] for d in doc)


def run_worker(w):
    return sum(work_item(w * 1000 + j) for j in range(ITEMS))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="threads", choices=["sequential", "threads", "processes"])
    model = ap.parse_args().model
    start = time.monotonic()
    if model == "sequential":
        total = sum(run_worker(w) for w in range(WORKERS))
    else:
        pool = (ThreadPoolExecutor if model == "threads" else ProcessPoolExecutor)(max_workers=WORKERS)
        with pool:
            total = sum(pool.map(run_worker, range(WORKERS)))
    print("wall_ms=%d model=%s" % ((time.monotonic() - start) * 1000, model))
    print("checksum", total % 1000, file=sys.stderr)


if __name__ == "__main__":
    main()

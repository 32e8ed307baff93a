# Four processes inserting into one SQLite database, a transaction per batch: they queue on
# the database's file lock and wait for fsync.
import multiprocessing as mp, os, sqlite3, sys, time

def writer(path, k):
    con = sqlite3.connect(path, timeout=30)
    con.execute("PRAGMA synchronous=FULL")
    for b in range(40):
        with con:
            con.executemany("INSERT INTO t VALUES (?, ?)", [(k, "x" * 200)] * 50)
    con.close()

if __name__ == "__main__":
    path = sys.argv[1]
    if os.path.exists(path): os.remove(path)
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (k INTEGER, v TEXT)")
    con.commit(); con.close()
    ps = [mp.Process(target=writer, args=(path, k)) for k in range(4)]
    for p in ps: p.start()
    for p in ps: p.join()
    print(sqlite3.connect(path).execute("SELECT count(*) FROM t").fetchone()[0])

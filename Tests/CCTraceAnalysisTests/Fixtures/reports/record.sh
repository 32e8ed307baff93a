#!/bin/bash
# Re-records the report fixtures: traces of the samples (release build) and viztracer traces of
# the Python programs in python/. Run from the package root; needs viztracer (pip).
set -euo pipefail
here=Tests/CCTraceAnalysisTests/Fixtures/reports
swift build -c release
tmp=$(mktemp -d)
for n in cpu-global-lock cpu-processes cpu-threads io-threads async-connections blocked-loop ipc-heavy lock-contention sequential; do
    CCTRACE_OUTPUT=$tmp/$n.json .build/release/$n >/dev/null
    gzip -9 -c $tmp/$n.json >$here/swift-$n.json.gz
done
for p in $here/python/*.py; do
    n=$(basename $p .py)
    # A first line `# viztracer: OPTIONS` adds options (--log_async for per-task rows).
    options=$(sed -n '1s/^# viztracer: //p' $p)
    (cd $tmp && viztracer --quiet --tracer_entries 3000000 $options -o $n.json $OLDPWD/$p >/dev/null)
    # Neutral paths: the recording machine's directories do not belong in the fixtures.
    python_lib=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
    sed -e "s#$python_lib/#/usr/lib/python3/#g" -e "s#$(cd $here/python && pwd)/#/home/user/app/#g" \
        $tmp/$n.json | gzip -9 >$here/viztracer-$n.json.gz
done
rm -rf $tmp

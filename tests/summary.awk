# Adds up deno test's closing lines ("ok | 29 passed | 0 failed | 3 ignored (1s)"), one per run,
# into the plain "tests: N passed, N failed, N skipped" line CI reads. Fails when none was printed.
function count(line, word,    m) {
  return match(line, "[0-9]+ " word) ? substr(line, RSTART, RLENGTH - length(word) - 1) : 0
}
/^(ok|FAILED) \| / {
  passed += count($0, "passed"); failed += count($0, "failed"); ignored += count($0, "ignored"); seen = 1
}
END {
  if (!seen) { print "tests: no summary line from deno test"; exit 1 }
  print "tests: " passed + 0 " passed, " failed + 0 " failed, " ignored + 0 " skipped"
}

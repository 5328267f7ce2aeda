# Turns deno test's closing line ("ok | 29 passed | 0 failed | 3 ignored (1s)") into the plain
# "tests: N passed, N failed, N skipped" line CI reads. Fails when no closing line was printed.
function count(line, word,    m) {
  return match(line, "[0-9]+ " word) ? substr(line, RSTART, RLENGTH - length(word) - 1) : 0
}
/^(ok|FAILED) \| / { passed = count($0, "passed"); failed = count($0, "failed"); ignored = count($0, "ignored"); seen = 1 }
END {
  if (!seen) { print "tests: no summary line from deno test"; exit 1 }
  print "tests: " passed " passed, " failed " failed, " ignored " skipped"
}

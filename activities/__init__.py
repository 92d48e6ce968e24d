"""Every side effect of a job: vendor submit / poll / cancel, rehost into storage, ledger settlement."""

module lanes.invalid/bench/peer

go 1.19

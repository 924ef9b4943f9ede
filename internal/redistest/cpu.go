package redistest

import (
	"context"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// ServerCPU is the CPU time so far of the redis-server rdb talks to and
// of its finished children (INFO cpu: used_cpu_user + used_cpu_sys, and
// the same _children: the AOF rewrites and RDB saves it forks, work a
// run's writes cause), or 0 when it does not answer. The load run and
// the store's benchmarks subtract two of them for the server's share of
// a run; a child still running at the second is counted in a later run.
func ServerCPU(ctx context.Context, rdb goredis.UniversalClient) time.Duration {
	info, err := rdb.InfoMap(ctx, "cpu").Result()
	if err != nil {
		return 0
	}
	var sec float64
	for _, k := range []string{"used_cpu_user", "used_cpu_sys", "used_cpu_user_children", "used_cpu_sys_children"} {
		f, _ := strconv.ParseFloat(info["CPU"][k], 64)
		sec += f
	}
	return time.Duration(sec * float64(time.Second))
}

package vm

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"sync/atomic"

	"github.com/cnlab/cnlab/vm/guest"
)

// resultsReader decodes the lines of a guest's event stream, counting what
// it cannot use.
type resultsReader struct {
	events, corrupt, dropped atomic.Int64
	done                     chan struct{} // closed when Boot returns: stop reading
}

func (rd *resultsReader) stats() ResultsStats {
	return ResultsStats{Events: int(rd.events.Load()), Corrupt: int(rd.corrupt.Load()), Dropped: int(rd.dropped.Load())}
}

// decode reads lines of at most max bytes; a longer one is skipped to its
// end and counted, and reading goes on.
func (rd *resultsReader) decode(r io.Reader, events chan<- guest.Event, max int) {
	br := bufio.NewReaderSize(r, 64<<10)
	var line []byte
	over := false
	for {
		chunk, err := br.ReadSlice('\n')
		if !over {
			if len(line)+len(chunk) > max+1 {
				over, line = true, line[:0]
			} else {
				line = append(line, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if len(bytes.TrimSpace(line)) > 0 || over {
			switch {
			case over:
				rd.dropped.Add(1)
			default:
				var e guest.Event
				if json.Unmarshal(bytes.TrimSpace(line), &e) != nil || e.Type == "" {
					rd.corrupt.Add(1)
				} else {
					rd.events.Add(1)
					select {
					case events <- e:
					case <-rd.done:
						return
					}
				}
			}
		}
		line, over = line[:0], false
		if err != nil {
			return
		}
	}
}

package tokenizer

// heapItem is what the binary heaps below order: the encoder's merge
// candidates and the trainer's pair counts.
type heapItem[T any] interface {
	less(T) bool
}

// heapPush and heapPop keep *h a binary min-heap by less. They are written
// out rather than using container/heap so the hot merge loop makes no
// interface calls and no allocations once the slice has grown.
func heapPush[T heapItem[T]](h *[]T, x T) {
	*h = append(*h, x)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s[i].less(s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

// heapPop removes and returns the least item; *h must not be empty.
func heapPop[T heapItem[T]](h *[]T) T {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(s) && s[l].less(s[m]) {
			m = l
		}
		if r < len(s) && s[r].less(s[m]) {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

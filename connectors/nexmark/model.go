package nexmark

import (
	"math"
	"math/bits"
	"strconv"
)

// The constants of the Nexmark model, as in the reference generator
// (nexmark-flink's GeneratorConfig, NexmarkConfiguration and the person,
// auction and bid generators).
const (
	firstAuctionID  = 1000 // ids start here so small runs still find matches
	firstPersonID   = 1000
	firstCategoryID = 10
	numCategories   = 5

	// hotBatch: a hot auction, seller or bidder is the first (bidders: the
	// second) of the last hotBatch auctions or people.
	hotBatch = 100
	// The chance of choosing a hot auction, bidder or seller is 1 − 1/ratio;
	// the defaults of the reference's bid.hot-ratio.auctions,
	// bid.hot-ratio.bidders and auction.hot-ratio.sellers.
	defHotAuctionRatio = 2
	defHotBidderRatio  = 4
	defHotSellerRatio  = 4

	numInFlightAuctions = 100  // auctions likely still open
	numActivePeople     = 1000 // people who place auctions or bids
	idLead              = 10   // ids a little ahead of the last one generated

	// The reference's default person.avg-size, auction.avg-size and
	// bid.avg-size, in bytes.
	defAvgPersonBytes  = 200
	defAvgAuctionBytes = 500
	defAvgBidBytes     = 100

	numChannels      = 10000 // "channel-<n>" with their own urls
	hotChannelRatio  = 2     // a bid is in a hot channel with chance 1 − 1/2 (the reference's HOT_CHANNELS_RATIO)
	urlChannelIDRate = 10    // a channel url has no channel_id with chance 1/10
	minStringLength  = 3
)

var (
	usStates   = []string{"AZ", "CA", "ID", "OR", "WA", "WY"}
	usCities   = []string{"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"}
	firstNames = []string{"Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"}
	lastNames  = []string{"Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"}
	hotChannel = []string{"Google", "Facebook", "Baidu", "Apple"}
)

const gamma = 0x9e3779b97f4a7c15

// mix is the splitmix64 finalizer, a bijection on 64 bits.
func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// hash is the random value of event n in the stream seeded with seed.
func hash(seed uint64, n int64) uint64 { return mix(seed + uint64(n+1)*gamma) }

// below maps 32 random bits uniformly (bias < 2^-20 for n < 4096) onto [0, n).
func below(r uint32, n int64) int64 { return int64((uint64(r) * uint64(n)) >> 32) }

// below64 maps h uniformly onto [0, n).
func below64(h uint64, n int64) int64 {
	hi, _ := bits.Mul64(h, uint64(n))
	return int64(hi)
}

// rng is a splitmix64 sequence, for the rows (persons, auctions) whose
// fields are drawn one after the other from one seed.
type rng struct{ s uint64 }

func (r *rng) next() uint64       { r.s += gamma; return mix(r.s) }
func (r *rng) intn(n int64) int64 { return below64(r.next(), n) }

// The Nexmark streams.
const (
	person = iota
	auction
	bid
)

var streamNames = [...]string{person: "person", auction: "auction", bid: "bid"}

// model holds what every value derives from: the seed, the proportions and
// the event-time pace, and tables precomputed from the seed.
type model struct {
	seed uint64
	// Proportions of the event types: event id e is a person when
	// e mod total < pp, an auction when < pp+ap, a bid otherwise.
	pp, ap, bp, total int64
	baseTime          int64 // event time of event 0, epoch ms
	rate              int64 // events per second of event time
	usPerEvent        int64 // 1e6/rate when exact, else 0
	groupSize         int64 // out-of-order group size; 1: in order

	// The chances of hot auctions, bidders and sellers: 1 − 1/ratio.
	hotAuctionRatio, hotBidderRatio, hotSellerRatio int64
	// Average sizes of the rows, bytes; a bid's extra string is
	// bidExtraMin + [0, bidExtraSpan) bytes long.
	avgPerson, avgAuction, avgBid int64
	bidExtraMin, bidExtraSpan     int64

	// Per-field seeds.
	sAuction, sBidder, sPrice, sChannel, sExtra, sPerson, sAuctionRow uint64

	// chanB[i], urlB[i]: the name and url of channel i; channel i <
	// numChannels is "channel-i", then the hot channels. All of them are
	// slices of one buffer, never written after newModel.
	chanB, urlB [][]byte
	// pool is random letters that extra strings are cut from.
	pool []byte
	// Price tables: 10^(6x) for the high and middle 11 bits of x.
	priceHi, priceMid [2048]float64
}

func newModel(seed uint64) *model {
	m := &model{seed: seed, pp: 1, ap: 3, bp: 46, total: 50, rate: 10000, groupSize: 1,
		hotAuctionRatio: defHotAuctionRatio, hotBidderRatio: defHotBidderRatio, hotSellerRatio: defHotSellerRatio,
		avgPerson: defAvgPersonBytes, avgAuction: defAvgAuctionBytes}
	m.setAvgBid(defAvgBidBytes)
	s := func(k uint64) uint64 { return mix(seed ^ mix(k*gamma+0x5bd1e995)) }
	m.sAuction, m.sBidder, m.sPrice, m.sChannel, m.sExtra = s(1), s(2), s(3), s(4), s(5)
	m.sPerson, m.sAuctionRow = s(6), s(7)

	r := &rng{s: s(8)}
	m.chanB, m.urlB = channelTables(r)
	m.pool = make([]byte, 1<<16+1024)
	for i := range m.pool {
		m.pool[i] = byte('a' + r.intn(26))
	}
	for i := range m.priceHi {
		m.priceHi[i] = math.Pow(10, 6*float64(i)/(1<<11))
		m.priceMid[i] = math.Pow(10, 6*float64(i)/(1<<22))
	}
	return m
}

// channelTables builds the channels' names and urls into one buffer: a
// model is built for every validation and every source instance of a job,
// and 20,000 strings of their own cost more than a short job's events.
// The random draws are those of the reference's order: a channel's base
// url, then whether it has a channel_id.
func channelTables(r *rng) (names, urls [][]byte) {
	n := numChannels + len(hotChannel)
	// "channel-9999" is 12 bytes; a url at most 24+3×5+16+12+11 = 78.
	buf := make([]byte, 0, n*(12+80))
	type span struct{ name, url [2]int32 }
	spans := make([]span, n)
	mark := func() int32 { return int32(len(buf)) }
	for i := 0; i < n; i++ {
		sp := &spans[i]
		sp.name[0] = mark()
		if i < numChannels {
			buf = strconv.AppendInt(append(buf, "channel-"...), int64(i), 10)
		} else {
			buf = append(buf, hotChannel[i-numChannels]...)
		}
		sp.name[1] = mark()
		sp.url[0] = mark()
		buf = appendBaseURL(buf, r)
		if i < numChannels && r.intn(urlChannelIDRate) > 0 {
			// The reference's channel_id: the channel number's bits reversed.
			id := int32(bits.Reverse32(uint32(i)))
			if id < 0 {
				id = -id
			}
			buf = strconv.AppendInt(append(buf, "&channel_id="...), int64(id), 10)
		}
		sp.url[1] = mark()
	}
	names, urls = make([][]byte, n), make([][]byte, n)
	for i, sp := range spans {
		names[i] = buf[sp.name[0]:sp.name[1]:sp.name[1]]
		urls[i] = buf[sp.url[0]:sp.url[1]:sp.url[1]]
	}
	return names, urls
}

// appendBaseURL appends a url with three random directories.
func appendBaseURL(b []byte, r *rng) []byte {
	b = append(b, "https://www.nexmark.com/"...)
	for i := 0; i < 3; i++ {
		b = appendString(b, r, 5, '_')
		b = append(b, '/')
	}
	return append(b, "item.htm?query=1"...)
}

// appendString appends a random string of 3 to maxLen-1 characters: letters,
// and with chance 1/13 a space (written as sp), trimmed when sp is a space.
func appendString(b []byte, r *rng, maxLen int64, sp byte) []byte {
	n := minStringLength + r.intn(maxLen-minStringLength)
	start := len(b)
	for ; n > 0; n-- {
		h := r.next()
		if below(uint32(h), 13) == 0 {
			b = append(b, sp)
		} else {
			b = append(b, byte('a'+below(uint32(h>>32), 26)))
		}
	}
	if sp == ' ' {
		s := b[start:]
		lo, hi := 0, len(s)
		for lo < hi && s[lo] == ' ' {
			lo++
		}
		for hi > lo && s[hi-1] == ' ' {
			hi--
		}
		copy(s, s[lo:hi])
		b = b[:start+hi-lo]
	}
	return b
}

// extraSize is the length of an extra string of a row whose other fields
// take size bytes, so that rows average avg bytes (the reference's rule).
func extraSize(h uint64, size, avg int64) int64 {
	if size > avg {
		return 0
	}
	d := avg - size
	delta := int64(math.Round(float64(d) * 0.2))
	if delta == 0 {
		return d
	}
	return d - delta + below(uint32(h), 2*delta)
}

// extra returns an extra string of length n, cut from the pool.
func (m *model) extra(h uint64, n int64) []byte {
	off := below(uint32(h>>32), int64(len(m.pool))-n)
	return m.pool[off : off+n]
}

// adjust returns the event id at position n: positions are permuted within
// groups of groupSize, so that event time goes back and forth.
func (m *model) adjust(n int64) int64 {
	if m.groupSize == 1 {
		return n
	}
	g := m.groupSize
	return n/g*g + int64((uint64(n)*953)%uint64(g))
}

// eventTime returns the event time of event id e, epoch ms.
func (m *model) eventTime(e int64) int64 {
	if m.usPerEvent > 0 {
		return m.baseTime + e*m.usPerEvent/1000
	}
	hi, lo := bits.Mul64(uint64(e), 1_000_000)
	us, _ := bits.Div64(hi, lo, uint64(m.rate))
	return m.baseTime + int64(us/1000)
}

// lastPerson is the id (base 0) of the last person generated at or before
// event id e.
func (m *model) lastPerson(e int64) int64 {
	epoch, off := e/m.total, e%m.total
	if off >= m.pp {
		off = m.pp - 1
	}
	return epoch*m.pp + off
}

// lastAuction is the id (base 0) of the last auction generated at or
// before event id e.
func (m *model) lastAuction(e int64) int64 {
	epoch, off := e/m.total, e%m.total
	switch {
	case off < m.pp:
		epoch--
		off = m.ap - 1
	case off >= m.pp+m.ap:
		off = m.ap - 1
	default:
		off -= m.pp
	}
	return epoch*m.ap + off
}

// randomPerson picks one of the active people (base 0), plus a few ids
// not generated yet.
func (m *model) randomPerson(e int64, r uint32) int64 {
	n := m.lastPerson(e) + 1
	active := min(n, numActivePeople)
	return n - active + below(r, active+idLead)
}

// price is a price in cents, 10^(6x)×100 for x uniform in [0, 1): most
// prices are small, a few are large.
func (m *model) price(h uint64) int64 {
	x := h >> 31 // 33 bits
	lo := float64(x&(1<<11-1)) * (6 * math.Ln10 / (1 << 33))
	v := m.priceHi[x>>22] * m.priceMid[(x>>11)&(1<<11-1)] * (1 + lo)
	return int64(v*100 + 0.5) // v > 0: rounds half up, as math.Round does
}

// The fields of a bid, each a function of the seed and the event id.

func (m *model) bidAuction(e int64) int64 {
	h := hash(m.sAuction, e)
	last := m.lastAuction(e)
	if below(uint32(h), m.hotAuctionRatio) > 0 {
		return last/hotBatch*hotBatch + firstAuctionID
	}
	lo := max(last-numInFlightAuctions, 0)
	return lo + below(uint32(h>>32), last-lo+1+idLead) + firstAuctionID
}

func (m *model) bidBidder(e int64) int64 {
	h := hash(m.sBidder, e)
	if below(uint32(h), m.hotBidderRatio) > 0 {
		return m.lastPerson(e)/hotBatch*hotBatch + 1 + firstPersonID
	}
	return m.randomPerson(e, uint32(h>>32)) + firstPersonID
}

func (m *model) bidPrice(e int64) int64 { return m.price(hash(m.sPrice, e)) }

// bidChannel returns the index of the bid's channel in m.channels.
func (m *model) bidChannel(e int64) int {
	h := hash(m.sChannel, e)
	if below(uint32(h), hotChannelRatio) > 0 {
		return numChannels + int(below(uint32(h>>32), int64(len(hotChannel))))
	}
	return int(below(uint32(h>>32), numChannels))
}

// bidFixedBytes: bids take 8×4 bytes besides their extra string.
const bidFixedBytes = 8 * 4

// setAvgBid sets the average bid size and the range of a bid's extra
// string's length, as extraSize computes it: with the default 100 bytes,
// uniform in [54, 54+28).
func (m *model) setAvgBid(avg int64) {
	m.avgBid = avg
	m.bidExtraMin, m.bidExtraSpan = 0, 0
	if avg < bidFixedBytes {
		return
	}
	d := avg - bidFixedBytes
	delta := int64(math.Round(float64(d) * 0.2))
	m.bidExtraMin, m.bidExtraSpan = d-delta, 2*delta
}

func (m *model) bidExtra(e int64) []byte {
	h := hash(m.sExtra, e)
	n := m.bidExtraMin
	if m.bidExtraSpan > 0 {
		n += below(uint32(h), m.bidExtraSpan)
	}
	return m.extra(h, n)
}

// personRow and auctionRow hold a generated row; their strings are ranges
// of a shared byte buffer.
type span struct{ off, end int32 }

type personRow struct {
	id, dateTime                                int64
	name, email, creditCard, city, state, extra span
}

type auctionRow struct {
	id, initialBid, reserve, dateTime, expires, seller, category int64
	itemName, description, extra                                 span
}

// appendSpan appends s to buf and returns its span.
func appendSpan(buf []byte, s []byte) ([]byte, span) {
	off := len(buf)
	buf = append(buf, s...)
	return buf, span{int32(off), int32(len(buf))}
}

// person generates the person of event id e, its strings appended to buf.
func (m *model) person(e int64, buf []byte) ([]byte, personRow) {
	r := &rng{s: hash(m.sPerson, e)}
	p := personRow{id: m.lastPerson(e) + firstPersonID, dateTime: m.eventTime(e)}
	start := len(buf)
	buf = append(buf, firstNames[r.intn(int64(len(firstNames)))]...)
	buf = append(buf, ' ')
	buf = append(buf, lastNames[r.intn(int64(len(lastNames)))]...)
	p.name = span{int32(start), int32(len(buf))}

	start = len(buf)
	buf = appendString(buf, r, 7, ' ')
	buf = append(buf, '@')
	buf = appendString(buf, r, 5, ' ')
	buf = append(buf, ".com"...)
	p.email = span{int32(start), int32(len(buf))}

	start = len(buf)
	for i := 0; i < 4; i++ {
		if i > 0 {
			buf = append(buf, ' ')
		}
		v := r.intn(10000)
		buf = append(buf, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
	}
	p.creditCard = span{int32(start), int32(len(buf))}

	buf, p.city = appendSpan(buf, []byte(usCities[r.intn(int64(len(usCities)))]))
	buf, p.state = appendSpan(buf, []byte(usStates[r.intn(int64(len(usStates)))]))
	size := int64(8 + len(buf) - int(p.name.off))
	h := r.next()
	buf, p.extra = appendSpan(buf, m.extra(h, extraSize(h, size, m.avgPerson)))
	return buf, p
}

// auction generates the auction of event id e, its strings appended to buf.
func (m *model) auction(e int64, buf []byte) ([]byte, auctionRow) {
	r := &rng{s: hash(m.sAuctionRow, e)}
	ts := m.eventTime(e)
	a := auctionRow{id: m.lastAuction(e) + firstAuctionID, dateTime: ts}
	h := r.next()
	if below(uint32(h), m.hotSellerRatio) > 0 {
		a.seller = m.lastPerson(e) / hotBatch * hotBatch
	} else {
		a.seller = m.randomPerson(e, uint32(h>>32))
	}
	a.seller += firstPersonID
	a.category = firstCategoryID + r.intn(numCategories)
	a.initialBid = m.price(r.next())
	// Auctions last on average until numInFlightAuctions more have been
	// created.
	ahead := numInFlightAuctions * m.total / m.ap
	horizon := m.eventTime(e+ahead) - ts
	a.expires = ts + 1 + r.intn(max(2*horizon, 1))
	start := len(buf)
	buf = appendString(buf, r, 20, ' ')
	a.itemName = span{int32(start), int32(len(buf))}
	start = len(buf)
	buf = appendString(buf, r, 100, ' ')
	a.description = span{int32(start), int32(len(buf))}
	a.reserve = a.initialBid + m.price(r.next())
	size := int64(8 + int(a.description.end-a.itemName.off) + 8*5)
	h = r.next()
	buf, a.extra = appendSpan(buf, m.extra(h, extraSize(h, size, m.avgAuction)))
	return buf, a
}

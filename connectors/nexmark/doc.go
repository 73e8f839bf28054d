// Package nexmark is the 'nexmark' source connector: the event generator
// of the Nexmark streaming benchmark (an online auction of people, auctions
// and bids), following the Flink Nexmark generator (nexmark-flink), so that
// the Nexmark queries run on StreamSQL. It owns the generator and its
// source; it knows nothing of plans or queries.
//
// StreamSQL has no ROW type, so where Flink declares one `nexmark` table
// with person, auction and bid ROW columns and three views over it, here
// each stream is a table of its own, chosen with 'event.type':
//
//	CREATE TABLE bid (
//	  auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING,
//	  dateTime TIMESTAMP(3), extra STRING,
//	  WATERMARK FOR dateTime AS dateTime - INTERVAL '4' SECOND
//	) WITH ('connector' = 'nexmark', 'event.type' = 'bid', 'events.num' = '1000000');
//
// The columns are those of the Flink Nexmark views:
//
//	person:  id, name, emailAddress, creditCard, city, state, dateTime, extra
//	auction: id, itemName, description, initialBid, reserve, dateTime,
//	         expires, seller, category, extra
//	bid:     auction, bidder, price, channel, url, dateTime, extra
//
// with ids, prices and category BIGINT, dateTime and expires TIMESTAMP(3)
// (or TIMESTAMP_LTZ(3)), the rest STRING. A table declares any subset of
// its stream's columns, in any order, names matched case-insensitively;
// only the declared columns are generated.
//
// Events are numbered globally over the three streams, as in the
// reference: event e is a person when e mod 50 is 0, an auction when it is
// 1 to 3, a bid otherwise (proportions 1:3:46), so a table of one stream
// skips the others (cheaply: it jumps from one run of its events to the
// next), and ids and times are the same whichever stream is read. Every
// value is a pure function of 'seed' and the event number: ids follow the
// reference's arithmetic (first person and auction id 1000, hot auctions,
// bidders and sellers chosen with the reference's ratios among the last
// 100, random ones among the 1000 active people and 100 in-flight
// auctions), prices are 10^(6x)×100 cents, channels are one of four hot
// ones or one of 10,000 "channel-<n>" with their urls, and the extra
// strings pad rows to the reference's average sizes (person 200, auction
// 500, bid 100 bytes). Strings are cut from tables and a pool of random
// letters computed once from the seed, so generating a bid allocates
// nothing.
//
// Options (besides 'connector'):
//
//	'event.type'   'person', 'auction' or 'bid' (required).
//	'events.num'   events to generate, of all types; bounded when set. The
//	               bid table of 'events.num' = '1000000' has 920,000 rows.
//	'seed'         seed of all values (default 0).
//	'rate'         events per second of event time (default 10000, the
//	               reference's first-event.rate): event e happens at
//	               base-time + e×1000/rate ms.
//	'rate-limited' 'true' to emit no faster than 'rate' events per second of
//	               the (injected) wall clock, counting the events of all
//	               streams; 'false' (the default) for maximum speed. Either
//	               way event time is the same.
//	'base-time'    event time of event 0 (default '2024-01-01 00:00:00';
//	               the reference uses the wall clock at start, which is not
//	               replayable).
//	'person.proportion', 'auction.proportion', 'bid.proportion'
//	               the proportions (default 1, 3, 46).
//	'out-of-order.group-size' events are shuffled within groups of this
//	               many (default 1, the reference's default: in order); the
//	               shuffle is the reference's, so event time goes back by
//	               at most group-size events. The reference's occasional
//	               delays (probDelayedEvent) only delay wall-clock emission
//	               in the Beam generator and are not applied.
//
// Checkpoints: the offset is the position of the next event (9 bytes);
// restoring it resumes exactly there.
package nexmark

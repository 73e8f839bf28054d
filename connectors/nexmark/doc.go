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
// value is a pure function of 'seed' and the event number, drawn by the
// reference's rules (nexmark-flink's GeneratorConfig, NexmarkConfiguration
// and the person, auction and bid generators): first person and auction
// id 1000; a bid is for a hot auction (the first of the last 100) with
// chance 1/2, else for one of the 100 in-flight auctions (plus 10 not
// created yet); by a hot bidder (the second of the last 100 people) with
// chance 3/4, else by one of the 1000 active people (plus 10); an auction's
// seller is hot (the first of the last 100) with chance 3/4; prices are
// 10^(6x)×100 cents for x uniform in [0, 1); half the bids are in one of
// the four hot channels (Google, Facebook, Baidu, Apple: the reference's
// HOT_CHANNELS_RATIO of 2), the others in one of 10,000 "channel-<n>",
// each with its url (nine in ten with a channel_id parameter); an auction
// expires 1 ms to twice the time of 100 auctions later; categories are 10
// to 14; the extra strings pad rows to the average sizes (person 200,
// auction 500, bid 100 bytes by default). Strings are cut from tables and
// a pool of random letters computed once from the seed, so generating a
// bid allocates nothing. The values are not the reference's (it draws
// from java.util.Random, unseeded), only their distributions; and a bid's
// bidder is base-0 person id + 1000, where versions of nexmark-flink's
// BidGenerator with channels add the 1000 twice (their bidders are then
// offset from person ids; no query joins the two, and the distribution is
// the same).
//
// Options (besides 'connector'), with the reference's names:
//
//	'event.type'   'person', 'auction' or 'bid' (required; StreamSQL's, for
//	               its one table per stream).
//	'events.num'   events to generate, of all types; bounded when set. The
//	               bid table of 'events.num' = '1000000' has 920,000 rows.
//	'first-event.rate'
//	               events per second of event time (default 10000): event e
//	               happens at base-time + e×1000/rate ms. The published
//	               Nexmark figures use 10,000,000. ('rate' is an alias.)
//	'next-event.rate', 'rate.shape', 'rate.period'
//	               checked and accepted; the reference's generator paces by
//	               first-event.rate alone, and so does this one.
//	'rate.limited' 'true' to emit no faster than first-event.rate events per
//	               second of the (injected) wall clock, counting the events
//	               of all streams; 'false' (the default) for maximum speed.
//	               Either way event time is the same. 'max-emit-speed' =
//	               'false' does the same; 'rate-limited' is an alias.
//	'person.proportion', 'auction.proportion', 'bid.proportion'
//	               the proportions (default 1, 3, 46).
//	'person.avg-size', 'auction.avg-size', 'bid.avg-size'
//	               average row sizes ('200b', '500b', '100b'; at most 32 kb).
//	'bid.hot-ratio.auctions', 'bid.hot-ratio.bidders',
//	'auction.hot-ratio.sellers'
//	               the hot ratios (default 2, 4, 4): hot with chance
//	               1 − 1/ratio.
//	'keep-alive', 'stop-at'
//	               accepted at their defaults ('false', -1) only.
//
// and StreamSQL's own:
//
//	'seed'         seed of all values (default 0).
//	'base-time'    event time of event 0 (default '2024-01-01 00:00:00';
//	               the reference uses the wall clock at start, which is not
//	               replayable).
//	'out-of-order.group-size' events are shuffled within groups of this
//	               many (default 1, the reference's default: in order); the
//	               shuffle is the reference's, so event time goes back by
//	               at most group-size events. The reference's occasional
//	               delays (probDelayedEvent) only delay wall-clock emission
//	               in the Beam generator and are not applied.
//
// Projection: the connector is a connectors.ProjectableSource. The planner
// hands it the columns the job reads (columns=[…] in EXPLAIN); it does not
// generate the others (a bid's channel, url and extra strings, most of its
// cost) and leaves them NULL.
//
// Checkpoints: the offset is the position of the next event (9 bytes);
// restoring it resumes exactly there, whichever columns either run read.
package nexmark

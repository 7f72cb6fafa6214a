// The ns-3 backend (see ns3.h).  The only file in coapsim that includes ns-3.
//
// Layout.  A star with one node of degree N does not scale in ns-3 3.37:
// adding the N-th interface to a node walks the others (5,000 endpoints took
// 5 s to wire, 10,000 about 21 s, and every packet the hub receives is
// checked against all its addresses).  Instead each endpoint gets its own
// pair of nodes, endpoint E_i and access node A_i, on their own channel with
// their own /64; nothing routes, every node has one interface, and wiring is
// linear (10,000 endpoints: see the README).  The server's C core sits
// behind all access nodes: a datagram arriving at A_i is the server's.  With
// a [bottleneck], A_i hands the datagram (in zero time: a switch fabric) to a
// gateway node G that sends it over one point-to-point link to the server
// node S, where it is delivered; downstream runs the other way.
//
// Packets carry a byte tag (not on the wire) with the datagram's id, endpoint,
// direction and harness metadata, as the native channel does.

#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_set>
#include <vector>

#include <ns3/core-module.h>
#include <ns3/csma-module.h>
#include <ns3/internet-module.h>
#include <ns3/lr-wpan-module.h>
#include <ns3/mobility-module.h>
#include <ns3/network-module.h>
#include <ns3/point-to-point-module.h>
#include <ns3/propagation-module.h>
#include <ns3/sixlowpan-module.h>
#include <ns3/spectrum-module.h>
#include <ns3/traffic-control-module.h>

extern "C" {
#include "../core/sim.h"
#include "../backend/backend.h"
#include "../scenario/scenario.h"
#include "ns3.h"
}

namespace
{
using namespace ns3;

const uint16_t kPort = 5683; // both ends, as in the native captures

// How long what is in flight may take to land once none of our timers is
// left: past any datagram's delivery and ns-3's 60 s fragment reassembly
// timeout, as long as TCP's 60 s maximum RTO five times.
const Time kDrainMax = Seconds(300);

// ns-3's simulator, node list and RNG seeds are process-wide.
std::mutex g_lock;

// What a datagram carries besides its bytes (like the native net_pkt).
class MetaTag : public Tag
{
  public:
    uint32_t id = 0, ep = 0;
    uint8_t dir = 0;
    net_meta meta{};

    static TypeId GetTypeId()
    {
        static TypeId tid = TypeId("coapsim::MetaTag").SetParent<Tag>().AddConstructor<MetaTag>();
        return tid;
    }
    TypeId GetInstanceTypeId() const override { return GetTypeId(); }
    uint32_t GetSerializedSize() const override { return 9 + sizeof(net_meta); }
    void Serialize(TagBuffer b) const override
    {
        b.WriteU32(id);
        b.WriteU32(ep);
        b.WriteU8(dir);
        b.Write(reinterpret_cast<const uint8_t*>(&meta), sizeof(meta));
    }
    void Deserialize(TagBuffer b) override
    {
        id = b.ReadU32();
        ep = b.ReadU32();
        dir = b.ReadU8();
        b.Read(reinterpret_cast<uint8_t*>(&meta), sizeof(meta));
    }
    void Print(std::ostream& os) const override { os << "id=" << id << " ep=" << ep; }
};

// Loss of one packet, judged as sim/net/net.c does: Bernoulli, or
// Gilbert-Elliott with the state moving once per packet before the packet
// is judged.
struct LossJudge
{
    loss_cfg cfg{};
    bool bad = false;
    Ptr<UniformRandomVariable> u = CreateObject<UniformRandomVariable>();

    bool lose()
    {
        if (cfg.kind == LOSS_BERNOULLI)
            return u->GetValue() < cfg.p;
        if (bad ? u->GetValue() < cfg.ge_r : u->GetValue() < cfg.ge_p)
            bad = !bad;
        return u->GetValue() < (bad ? cfg.loss_bad : cfg.loss_good);
    }
};

// Gilbert-Elliott as an ns-3 error model: ns-3 3.37 has no two-state model
// of its own (BurstErrorModel draws burst lengths, not a Markov chain).
class GilbertElliottErrorModel : public ErrorModel
{
  public:
    static TypeId GetTypeId()
    {
        static TypeId tid = TypeId("coapsim::GilbertElliottErrorModel")
                                .SetParent<ErrorModel>()
                                .AddConstructor<GilbertElliottErrorModel>();
        return tid;
    }
    void Configure(const loss_cfg& l) { m_j.cfg = l; }
    int64_t AssignStreams(int64_t stream)
    {
        m_j.u->SetStream(stream);
        return 1;
    }

  private:
    bool DoCorrupt(Ptr<Packet>) override { return m_j.lose(); }
    void DoReset() override { m_j.bad = false; }

    LossJudge m_j;
};

// 802.15.4 frames lost on a pair's radio channel: a frame the scenario's
// loss takes arrives far below the receiver's sensitivity, so the PHY never
// decodes it (LrWpanNetDevice takes no ErrorModel).  Direction is told by
// the sender: the endpoint's mobility model is `ep`.
class PairLossModel : public PropagationLossModel
{
  public:
    static TypeId GetTypeId()
    {
        static TypeId tid = TypeId("coapsim::PairLossModel")
                                .SetParent<PropagationLossModel>()
                                .AddConstructor<PairLossModel>();
        return tid;
    }
    void Configure(const loss_cfg& up, const loss_cfg& down, Ptr<MobilityModel> ep)
    {
        m_up.cfg = up;
        m_down.cfg = down;
        m_ep = ep;
    }

  private:
    double DoCalcRxPower(double tx_dbm, Ptr<MobilityModel> a, Ptr<MobilityModel>) const override
    {
        LossJudge& j = a == m_ep ? m_up : m_down;
        return j.lose() ? -1000.0 : tx_dbm;
    }
    int64_t DoAssignStreams(int64_t stream) override
    {
        m_up.u->SetStream(stream);
        m_down.u->SetStream(stream + 1);
        return 2;
    }

    mutable LossJudge m_up, m_down;
    Ptr<MobilityModel> m_ep;
};

// ns-3 3.37's TCP socket with two of its departures from Linux mended, for
// the linux profile (both are still in ns-3's development tree, 2026-12):
//
// - Its retransmission timeout resends through SendPendingData, which
//   applies Nagle's test: with data outstanding (the lost segment itself)
//   and less than a full segment to send, it sends nothing and arms no
//   timer, so a connection whose short segment was lost stalls for good.
//   Linux's timer resends the head regardless of Nagle
//   (tcp_retransmit_timer).
// - It records Last.ACK.sent (m_highTxAck) only when it sends a pure ACK,
//   so an end that acknowledges on its data (a broker answering each
//   PUBLISH with a PUBACK) keeps echoing the first timestamp it took, and
//   its peer's RTT samples, and RTO, grow by a minute with every PUBLISH.
//   RFC 7323 section 4.3 and Linux (tcp_ack_snd_check / tcp_event_ack_sent)
//   count the acknowledgement on any segment.
class LinuxTcpSocket : public TcpSocketBase
{
  public:
    LinuxTcpSocket() = default;
    LinuxTcpSocket(const LinuxTcpSocket& s) = default;

  protected:
    void ReTxTimeout() override
    {
        TcpSocketBase::ReTxTimeout();
        // Nothing resent and no timer armed, with data outstanding: Nagle
        // held the retransmission.  Resend the lost head as Linux does; new
        // data behind it still waits for its ACK.
        if (m_retxEvent.IsExpired() && (m_endPoint || m_endPoint6) && m_txBuffer->Size() &&
            (m_state == ESTABLISHED || m_state == CLOSE_WAIT) && BytesInFlight() == 0)
            DoRetransmit();
    }
    uint32_t SendDataPacket(SequenceNumber32 seq, uint32_t max, bool with_ack) override
    {
        uint32_t n = TcpSocketBase::SendDataPacket(seq, max, with_ack);
        SequenceNumber32 ack = m_tcb->m_rxBuffer->NextRxSequence();
        if (n && with_ack && m_highTxAck < ack)
            m_highTxAck = ack;
        return n;
    }
    Ptr<TcpSocketBase> Fork() override { return CopyObject<LinuxTcpSocket>(this); }
};

// A TCP socket on node n as TcpL4Protocol::CreateSocket makes one, with the
// linux profile's mended socket.
Ptr<Socket> linux_tcp_socket(Ptr<Node> n)
{
    Ptr<TcpL4Protocol> tcp = n->GetObject<TcpL4Protocol>();
    TypeIdValue rtt, cc, rec;
    tcp->GetAttribute("RttEstimatorType", rtt);
    tcp->GetAttribute("SocketType", cc);
    tcp->GetAttribute("RecoveryType", rec);
    ObjectFactory f;
    Ptr<LinuxTcpSocket> s = CreateObject<LinuxTcpSocket>();
    s->SetNode(n);
    s->SetTcp(tcp);
    f.SetTypeId(rtt.Get());
    s->SetRtt(f.Create<RttEstimator>());
    f.SetTypeId(cc.Get());
    s->SetCongestionControlAlgorithm(f.Create<TcpCongestionOps>());
    f.SetTypeId(rec.Get());
    s->SetRecoveryAlgorithm(f.Create<TcpRecoveryOps>());
    tcp->AddSocket(s);
    return s;
}

Ptr<ErrorModel> make_loss(const loss_cfg& l, int64_t stream)
{
    if (l.kind == LOSS_GILBERT) {
        Ptr<GilbertElliottErrorModel> m = CreateObject<GilbertElliottErrorModel>();
        m->Configure(l);
        m->AssignStreams(stream);
        return m;
    }
    Ptr<RateErrorModel> m = CreateObject<RateErrorModel>();
    m->SetUnit(RateErrorModel::ERROR_UNIT_PACKET);
    m->SetRate(l.p);
    m->AssignStreams(stream);
    return m;
}

std::string rate_str(uint64_t bps)
{
    // "unlimited" as 100 Gb/s: a 1,280-byte packet serialises in 0.1 us.
    return std::to_string(bps ? bps : 100000000000ull) + "bps";
}

// 2001:db8:<i>::<host>/64 for endpoint i's link (host 1 = access, 2 = endpoint).
// A DropTailQueue bound in packets; with no rate limit nothing waits long,
// and the bound only guards memory.
std::string queue_str(uint64_t bps, uint32_t queue)
{
    return std::to_string(bps ? queue : 1000000) + "p";
}

Ipv6Address link_addr(uint32_t i, uint8_t host)
{
    uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8, uint8_t(i >> 24), uint8_t(i >> 16), uint8_t(i >> 8),
                     uint8_t(i)};
    b[15] = host;
    return Ipv6Address(b);
}

Ipv6Address bn_addr(uint8_t host)
{
    uint8_t b[16] = {0xfd, 0x00, 0x0c, 0x0a, 0x95, 0x13};
    b[15] = host;
    return Ipv6Address(b);
}

struct Run
{
    sim_engine* eng = nullptr;
    const scenario_cfg* cfg = nullptr;
    const backend_cb* cb = nullptr;
    uint32_t n_ep = 0;
    const link_cfg* lcfg[2] = {nullptr, nullptr};
    const bottleneck_cfg* bn_cfg = nullptr;
    net_stats st{};
    sim_sched sched{};
    std::unique_lock<std::mutex> lock;

    // Timers: the slot of a sim_timer indexes its EventId here.
    std::vector<EventId> ev;
    std::vector<uint32_t> free_slots;
    uint32_t armed = 0;

    // Datagrams sent and neither delivered nor lost yet.
    std::unordered_set<uint32_t> in_flight;

    std::vector<Ptr<Socket>> ep_sock, acc_sock;
    std::vector<Ipv6Address> ep_addr, acc_addr;
    Ptr<Socket> gw_sock, srv_sock;
    bool bottleneck = false;

    // MQTT's TCP: each socket we know, its endpoint and end, and where its
    // stream starts (to give segments stream offsets as our model does).
    struct SockInfo
    {
        uint32_t ep = 0;
        bool broker = false;
        bool have_isn = false;
        uint32_t isn = 0;
        uint32_t high = 0; // end of the highest sequence sent, from isn
        bool syn_sent = false;
        bool closing = false; // we closed this end ourselves
    };
    std::unordered_map<const Socket*, SockInfo> socks;
    std::vector<Ptr<Socket>> cli_sock, brk_sock, listener;
    uint32_t first_acc_node = 0; // node ids: endpoints, then access nodes
    uint64_t tcp_sent = 0, tcp_rcvd = 0;

    explicit Run(std::mutex& m) : lock(m) {}

    static sim_time now() { return sim_time(Simulator::Now().GetNanoSeconds()); }
    void sync() { sim_engine_set_now(eng, now()); }

    // ---- timers ----
    static int arm(void* ud, sim_timer* t)
    {
        Run* r = static_cast<Run*>(ud);
        uint32_t slot;
        if (t->slot) {
            slot = t->slot - 1;
            Simulator::Cancel(r->ev[slot]);
        } else {
            if (r->free_slots.empty()) {
                r->free_slots.push_back(uint32_t(r->ev.size()));
                r->ev.emplace_back();
            }
            slot = r->free_slots.back();
            r->free_slots.pop_back();
            t->slot = slot + 1;
            r->armed++;
        }
        int64_t delay = int64_t(t->when) - Simulator::Now().GetNanoSeconds();
        r->ev[slot] = Simulator::Schedule(NanoSeconds(delay > 0 ? delay : 0), &Run::fire, r, t);
        return 0;
    }

    static void cancel(void* ud, sim_timer* t)
    {
        Run* r = static_cast<Run*>(ud);
        Simulator::Cancel(r->ev[t->slot - 1]);
        r->release(t);
    }

    void release(sim_timer* t)
    {
        free_slots.push_back(t->slot - 1);
        t->slot = 0;
        armed--;
    }

    static void fire(Run* r, sim_timer* t)
    {
        r->release(t);
        sim_engine_fire(r->eng, t, now());
    }

    static void run(void* ud, sim_time until)
    {
        Run* r = static_cast<Run*>(ud);
        Simulator::Stop(NanoSeconds(int64_t(until)) - Simulator::Now());
        Simulator::Run();
        r->sync();
        if (r->armed == 0 && (!r->in_flight.empty() || r->tcp_sent != r->tcp_rcvd)) {
            // No timer of ours is left: let what is in flight land, then
            // whatever has not arrived was dropped where no trace tells (a
            // reassembly that never completed, say).  Bounded: ns-3's own
            // events need not end (its TCP resends a FIN in LAST_ACK at a
            // fixed interval, without limit, to a peer that ignores it).
            Simulator::Stop(kDrainMax);
            Simulator::Run();
            r->sync();
            r->st.packets_lost += r->in_flight.size();
            r->in_flight.clear();
        }
        if (r->armed == 0) {
            // TCP segments: sent and never received.
            r->st.packets_lost += r->tcp_sent - r->tcp_rcvd;
            r->tcp_sent = r->tcp_rcvd = 0;
        }
    }

    static void stop(void*) { Simulator::Stop(); }

    // ---- datagrams ----
    static int send(void* ud, uint32_t ep, net_dir dir, const uint8_t* buf, size_t len,
                    const net_meta* meta)
    {
        Run* r = static_cast<Run*>(ud);
        if (len > SIM_MAX_DATAGRAM || ep >= r->n_ep)
            return SIM_ERR_INVAL;
        MetaTag tag;
        tag.id = uint32_t(r->st.packets_sent++);
        tag.ep = ep;
        tag.dir = uint8_t(dir);
        tag.meta = meta ? *meta : net_meta{};
        uint32_t mtu = r->lcfg[dir]->mtu;
        uint32_t nfrag = net_frag_count(len, mtu);
        r->st.bytes_sent += net_ip_bytes(len, mtu);
        if (nfrag > 1)
            r->st.fragments += nfrag;
        r->in_flight.insert(tag.id);
        if (r->in_flight.size() > r->st.in_flight_max)
            r->st.in_flight_max = r->in_flight.size();
        if (r->cb->tap_send)
            r->cb->tap_send(r->cb->ud, ep, dir, tag.id, buf, len, &tag.meta, now());

        Ptr<Packet> p = Create<Packet>(buf, uint32_t(len));
        p->AddByteTag(tag); // byte tags outlive 6LoWPAN reassembly; packet tags do not
        int rc;
        if (dir == NET_UP)
            rc = r->ep_sock[ep]->SendTo(p, 0, Inet6SocketAddress(r->acc_addr[ep], kPort));
        else if (r->bottleneck)
            rc = r->srv_sock->SendTo(p, 0, Inet6SocketAddress(bn_addr(1), kPort));
        else
            rc = r->acc_sock[ep]->SendTo(p, 0, Inet6SocketAddress(r->ep_addr[ep], kPort));
        if (rc < 0) // the device queue refused it at once
            r->lost(tag.id);
        return 0;
    }

    // The datagram is gone (the first of its fragments to go decides).
    bool lost(uint32_t id)
    {
        if (!in_flight.erase(id))
            return false;
        st.packets_lost++;
        return true;
    }

    void on_phy_drop(Ptr<const Packet> p)
    {
        MetaTag tag;
        if (p->FindFirstMatchingByteTag(tag))
            lost(tag.id);
    }

    void on_queue_drop(Ptr<const Packet> p)
    {
        MetaTag tag;
        if (!p->FindFirstMatchingByteTag(tag))
            return;
        if (lost(tag.id))
            st.queue_drops++;
    }

    void deliver(Ptr<Packet> p, const MetaTag& tag)
    {
        if (!in_flight.erase(tag.id))
            return;
        sync();
        uint8_t buf[SIM_MAX_DATAGRAM];
        uint32_t len = p->CopyData(buf, sizeof(buf));
        net_dir dir = net_dir(tag.dir);
        if (cb->tap_recv)
            cb->tap_recv(cb->ud, tag.ep, dir, tag.id, buf, len, &tag.meta, now());
        cb->deliver(cb->ud, tag.ep, dir, buf, len, &tag.meta);
    }

    // A datagram reached an endpoint, an access node, the gateway or the server.
    void on_recv(Ptr<Socket> s)
    {
        Ptr<Packet> p;
        Address from;
        while ((p = s->RecvFrom(from))) {
            MetaTag tag;
            if (!p->FindFirstMatchingByteTag(tag))
                continue;
            if (bottleneck && tag.dir == NET_UP && s != srv_sock) {
                gw_sock->SendTo(p, 0, Inet6SocketAddress(bn_addr(2), kPort));
            } else if (bottleneck && tag.dir == NET_DOWN && s == gw_sock) {
                acc_sock[tag.ep]->SendTo(p, 0, Inet6SocketAddress(ep_addr[tag.ep], kPort));
            } else {
                deliver(p, tag);
            }
        }
    }

    // ---- MQTT's TCP ----
    void tcp_defaults()
    {
        const tcp_cfg& t = cfg->tcp;
        // Close to our model (sim/tcp): NewReno, Linux's retry counts;
        // rfc6298: no SACK, timestamps or window scaling, RFC 3390 initial
        // window, MinRto = rto_min; linux: SACK, timestamps and window
        // scaling (ns-3's own SACK recovery, no RACK), 10 segments, 40 ms
        // delayed ACKs, Nagle per side (TcpNoDelay), and ns-3's MinRto at
        // Linux's 200 ms (ns-3 floors the whole RTO there, Linux only its
        // variance term).
        bool lx = t.profile == TCP_CFG_LINUX;
        uint32_t iw = lx ? 10u : std::min(4 * t.mss, std::max(2 * t.mss, 4380u)) / t.mss;
        Config::SetDefault("ns3::TcpL4Protocol::SocketType",
                           TypeIdValue(TcpNewReno::GetTypeId()));
        Config::SetDefault("ns3::TcpSocketBase::Sack", BooleanValue(lx));
        Config::SetDefault("ns3::TcpSocketBase::Timestamp", BooleanValue(lx));
        Config::SetDefault("ns3::TcpSocketBase::WindowScaling", BooleanValue(lx));
        Config::SetDefault("ns3::TcpSocketBase::MinRto",
                           TimeValue(NanoSeconds(int64_t(lx ? 200000000 : t.rto_min))));
        Config::SetDefault("ns3::TcpSocket::SegmentSize", UintegerValue(t.mss));
        Config::SetDefault("ns3::TcpSocket::InitialCwnd", UintegerValue(iw));
        Config::SetDefault("ns3::TcpSocket::ConnTimeout",
                           TimeValue(NanoSeconds(int64_t(t.rto_initial))));
        // The SYN and its retries; data retransmissions before giving up.
        Config::SetDefault("ns3::TcpSocket::ConnCount", UintegerValue(t.syn_retries + 1));
        Config::SetDefault("ns3::TcpSocket::DataRetries", UintegerValue(t.data_retries));
        if (t.delayed_ack || lx) {
            Config::SetDefault("ns3::TcpSocket::DelAckTimeout",
                               TimeValue(NanoSeconds(int64_t(t.delayed_ack ? t.delayed_ack
                                                                           : 40000000))));
            Config::SetDefault("ns3::TcpSocket::DelAckCount", UintegerValue(2));
        } else {
            Config::SetDefault("ns3::TcpSocket::DelAckCount", UintegerValue(1));
        }
    }

    // Nagle's algorithm runs only in the linux profile (as in sim/tcp).
    bool lx_nagle() const { return cfg->tcp.profile == TCP_CFG_LINUX; }

    Ptr<Socket> tcp_socket(Ptr<Node> n)
    {
        return cfg->tcp.profile == TCP_CFG_LINUX ? linux_tcp_socket(n)
                                                 : Socket::CreateSocket(n, TcpSocketFactory::GetTypeId());
    }

    SockInfo* info_of(Ptr<const Socket> s)
    {
        auto it = socks.find(PeekPointer(s));
        if (it != socks.end())
            return &it->second;
        // A socket ns-3 forked from a listener: the broker's end.
        uint32_t id = s->GetNode()->GetId();
        if (id < first_acc_node || id >= first_acc_node + n_ep)
            return nullptr;
        SockInfo& i = socks[PeekPointer(s)];
        i.ep = id - first_acc_node;
        i.broker = true;
        return &i;
    }

    void segment(Ptr<const Packet> p, const TcpHeader& h, Ptr<const TcpSocketBase> sock,
                 bool arrived)
    {
        SockInfo* si = info_of(sock);
        if (!si)
            return;
        // The sender's view: the receiving end reports its peer's segment.
        bool from_broker = arrived ? !si->broker : si->broker;
        uint8_t fl = h.GetFlags();
        uint32_t seq = h.GetSequenceNumber().GetValue();
        tcp_seg_info info{};
        info.data_len = p->GetSize();
        info.flags = fl;
        if (!arrived) {
            if (fl & TcpHeader::SYN) {
                info.retx = si->syn_sent;
                si->syn_sent = true;
                si->isn = seq;
                si->have_isn = true;
            } else if (si->have_isn) {
                uint32_t end = seq - si->isn + info.data_len + ((fl & TcpHeader::FIN) ? 1 : 0);
                info.data_off = seq - si->isn - 1;
                info.retx = (info.data_len || (fl & TcpHeader::FIN)) && end <= si->high;
                if (end > si->high)
                    si->high = end;
            }
            tcp_sent++;
            st.packets_sent++;
            st.bytes_sent += NET_IPV6_HDR + h.GetSerializedSize() + info.data_len;
        } else {
            tcp_rcvd++;
        }
        Ptr<Packet> c = p->Copy();
        c->AddHeader(h);
        std::vector<uint8_t> seg(c->GetSize());
        c->CopyData(seg.data(), uint32_t(seg.size()));
        sync();
        net_dir dir = from_broker ? NET_DOWN : NET_UP;
        net_meta meta{};
        meta.tcp = 1;
        uint32_t id = uint32_t(st.packets_sent); // not on the wire for TCP
        if (cb->tap_send && !arrived)
            cb->tap_send(cb->ud, si->ep, dir, id, seg.data(), seg.size(), &meta, now());
        if (cb->tap_recv && arrived)
            cb->tap_recv(cb->ud, si->ep, dir, id, seg.data(), seg.size(), &meta, now());
        cb->segment(cb->ud, si->ep, dir, arrived, seg.data(), seg.size(), &info);
    }
    void on_tcp_tx(Ptr<const Packet> p, const TcpHeader& h, Ptr<const TcpSocketBase> s)
    {
        segment(p, h, s, false);
    }
    void on_tcp_rx(Ptr<const Packet> p, const TcpHeader& h, Ptr<const TcpSocketBase> s)
    {
        segment(p, h, s, true);
    }

    void hook(Ptr<Socket> s, uint32_t ep, bool broker)
    {
        SockInfo& i = socks[PeekPointer(s)];
        i.ep = ep;
        i.broker = broker;
        s->SetRecvCallback(MakeCallback(&Run::on_tcp_data, this));
        s->SetCloseCallbacks(MakeCallback(&Run::on_tcp_closed, this),
                             MakeCallback(&Run::on_tcp_error, this));
    }

    void trace(Ptr<Socket> s)
    {
        s->TraceConnectWithoutContext("Tx", MakeCallback(&Run::on_tcp_tx, this));
        s->TraceConnectWithoutContext("Rx", MakeCallback(&Run::on_tcp_rx, this));
    }

    void event(Ptr<Socket> s, tcp_event ev)
    {
        SockInfo* si = info_of(s);
        if (!si)
            return;
        uint32_t ep = si->ep;
        bool broker = si->broker;
        std::vector<Ptr<Socket>>& v = broker ? brk_sock : cli_sock;
        if (ev != TCP_EV_ESTABLISHED) {
            if (v[ep] != s)
                return; // an old connection's last word
            forget(s);
            v[ep] = nullptr;
        }
        sync();
        cb->event(cb->ud, ep, broker, ev);
        cb->changed(cb->ud, ep);
    }

    void forget(Ptr<Socket> s)
    {
        s->SetRecvCallback(MakeNullCallback<void, Ptr<Socket>>());
        s->SetCloseCallbacks(MakeNullCallback<void, Ptr<Socket>>(),
                             MakeNullCallback<void, Ptr<Socket>>());
        s->SetConnectCallback(MakeNullCallback<void, Ptr<Socket>>(),
                              MakeNullCallback<void, Ptr<Socket>>());
    }

    void on_tcp_connected(Ptr<Socket> s) { event(s, TCP_EV_ESTABLISHED); }
    void on_tcp_failed(Ptr<Socket> s) { event(s, TCP_EV_FAILED); }
    void on_tcp_error(Ptr<Socket> s) { event(s, TCP_EV_RESET); }
    void on_tcp_closed(Ptr<Socket> s)
    {
        SockInfo* si = info_of(s);
        if (si && !si->closing)
            s->Close(); // the peer closed: close our side too
        event(s, TCP_EV_CLOSED);
    }

    bool on_tcp_request(Ptr<Socket>, const Address&) { return true; }

    void on_tcp_accept(Ptr<Socket> s, const Address&)
    {
        uint32_t ep = s->GetNode()->GetId() - first_acc_node;
        bool traced = socks.count(PeekPointer(s)) != 0; // forks may share the listener's traces
        hook(s, ep, true);
        if (!traced)
            trace(s);
        if (brk_sock[ep])
            forget(brk_sock[ep]);
        brk_sock[ep] = s;
        event(s, TCP_EV_ESTABLISHED);
    }

    void on_tcp_data(Ptr<Socket> s)
    {
        SockInfo* si = info_of(s);
        Ptr<Packet> p;
        while (si && (p = s->Recv())) {
            std::vector<uint8_t> buf(p->GetSize());
            p->CopyData(buf.data(), uint32_t(buf.size()));
            sync();
            cb->data(cb->ud, si->ep, si->broker, buf.data(), buf.size());
            cb->changed(cb->ud, si->ep);
            si = info_of(s); // the callback may have dropped it
            if (si && (si->broker ? brk_sock : cli_sock)[si->ep] != s)
                break;
        }
    }

    int tcp_connect(uint32_t ep)
    {
        Ptr<Node> a = NodeList::GetNode(first_acc_node + ep), e = NodeList::GetNode(ep);
        if (!listener[ep]) {
            Ptr<Socket> l = tcp_socket(a);
            // accepted sockets are forked from the listener: its setting
            l->SetAttribute("TcpNoDelay", BooleanValue(!lx_nagle() || cfg->broker.nodelay));
            l->Bind(Inet6SocketAddress(Ipv6Address::GetAny(), 1883));
            l->Listen();
            l->SetAcceptCallback(MakeCallback(&Run::on_tcp_request, this),
                                 MakeCallback(&Run::on_tcp_accept, this));
            trace(l);
            listener[ep] = l;
        }
        if (cli_sock[ep]) {
            forget(cli_sock[ep]);
            cli_sock[ep]->Close();
        }
        Ptr<Socket> s = tcp_socket(e);
        s->SetAttribute("TcpNoDelay", BooleanValue(!lx_nagle() || cfg->mqtt.nodelay));
        s->Bind6();
        hook(s, ep, false);
        trace(s);
        s->SetConnectCallback(MakeCallback(&Run::on_tcp_connected, this),
                              MakeCallback(&Run::on_tcp_failed, this));
        cli_sock[ep] = s;
        s->Connect(Inet6SocketAddress(acc_addr[ep], 1883));
        return 0;
    }

    // ---- topology ----
    Ptr<Socket> udp(Ptr<Node> node, uint16_t port)
    {
        Ptr<Socket> s = Socket::CreateSocket(node, UdpSocketFactory::GetTypeId());
        s->Bind(Inet6SocketAddress(Ipv6Address::GetAny(), port));
        s->SetRecvCallback(MakeCallback(&Run::on_recv, this));
        return s;
    }

    static Ptr<Ipv6Interface> address(Ptr<NetDevice> d, Ipv6Address a)
    {
        Ptr<Ipv6L3Protocol> ip = d->GetNode()->GetObject<Ipv6L3Protocol>();
        int32_t i = ip->AddInterface(d);
        ip->AddAddress(i, Ipv6InterfaceAddress(a, Ipv6Prefix(64)));
        ip->SetUp(i);
        return ip->GetInterface(i);
    }

    // Each end knows the other's link-layer address for good: no
    // neighbour discovery to lose or to wait for.  (NeighborCacheHelper
    // needs IPv4 on the nodes in 3.37.)
    static void neighbours(Ptr<NetDevice> a, Ipv6Address aa, Ptr<NetDevice> b, Ipv6Address ba)
    {
        Ptr<Ipv6Interface> ia = address(a, aa), ib = address(b, ba);
        NdiscCache::Entry* e = ia->GetNdiscCache()->Add(ba);
        e->SetMacAddress(b->GetAddress());
        e->MarkPermanent();
        e = ib->GetNdiscCache()->Add(aa);
        e->SetMacAddress(a->GetAddress());
        e->MarkPermanent();
    }

    // A full device queue stops it; the traffic-control layer above (no
    // queue disc is installed) then drops the packet: drop-tail.
    void watch_node(Ptr<Node> node)
    {
        node->GetObject<TrafficControlLayer>()->TraceConnectWithoutContext(
            "TcDrop", MakeCallback(&Run::on_queue_drop, this));
    }

    void watch(Ptr<NetDevice> d, Ptr<Queue<Packet>> q)
    {
        d->TraceConnectWithoutContext("PhyRxDrop", MakeCallback(&Run::on_phy_drop, this));
        if (q)
            q->TraceConnectWithoutContext("Drop", MakeCallback(&Run::on_queue_drop, this));
    }

    // One endpoint's link: devices [endpoint, access].
    NetDeviceContainer link(Ptr<Node> e, Ptr<Node> a, int64_t& stream)
    {
        const link_cfg &up = *lcfg[NET_UP], &down = *lcfg[NET_DOWN];
        std::string q = queue_str(up.rate_bps, up.queue);
        NetDeviceContainer d;
        if (cfg->ns3.device == NS3_LRWPAN) {
            // Each pair on its own 2.4 GHz channel (as each endpoint has its
            // own link natively), 1 m apart, the latency as propagation
            // delay; 250 kbit/s O-QPSK, unslotted CSMA-CA, no MAC ACKs (the
            // scenario's loss is what IP sees), 6LoWPAN on top.
            Ptr<MobilityModel> me = CreateObject<ConstantPositionMobilityModel>();
            Ptr<MobilityModel> ma = CreateObject<ConstantPositionMobilityModel>();
            me->SetPosition(Vector(0, 0, 0));
            ma->SetPosition(Vector(1, 0, 0));
            e->AggregateObject(me);
            a->AggregateObject(ma);
            Ptr<SingleModelSpectrumChannel> ch = CreateObject<SingleModelSpectrumChannel>();
            Ptr<PairLossModel> loss = CreateObject<PairLossModel>();
            loss->Configure(up.loss, down.loss, me);
            stream += loss->AssignStreams(stream);
            ch->AddPropagationLossModel(loss);
            Ptr<ConstantSpeedPropagationDelayModel> delay =
                CreateObject<ConstantSpeedPropagationDelayModel>();
            delay->SetSpeed(up.latency ? 1e9 / double(up.latency) : 3e8);
            ch->SetPropagationDelayModel(delay);
            // Devices by hand: LrWpanHelper's destructor disposes its
            // channel, which would leave the pair deaf once it goes.
            NetDeviceContainer radios;
            for (uint32_t k = 0; k < 2; k++) {
                Ptr<LrWpanNetDevice> r = CreateObject<LrWpanNetDevice>();
                r->SetChannel(ch);
                (k ? a : e)->AddDevice(r);
                r->GetMac()->SetPanId(1);
                uint8_t sa[2] = {0, uint8_t(k + 1)};
                Mac16Address short_addr;
                short_addr.CopyFrom(sa);
                r->GetMac()->SetShortAddress(short_addr);
                r->SetAttribute("UseAcks", BooleanValue(false));
                r->GetPhy()->SetMobility(k ? ma : me);
                r->GetMac()->SetRxOnWhenIdle(true); // listening from the start
                radios.Add(r);
            }
            SixLowPanHelper six;
            d = six.Install(radios); // IPv6 MTU 1280 (RFC 4944), fragments of 127 bytes
        } else if (cfg->ns3.device == NS3_CSMA) {
            CsmaHelper h;
            h.SetChannelAttribute("DataRate", StringValue(rate_str(up.rate_bps)));
            h.SetChannelAttribute("Delay", TimeValue(NanoSeconds(int64_t(up.latency))));
            h.SetQueue("ns3::DropTailQueue<Packet>", "MaxSize", StringValue(q));
            d = h.Install(NodeContainer(e, a));
            for (uint32_t k = 0; k < 2; k++) {
                Ptr<CsmaNetDevice> c = DynamicCast<CsmaNetDevice>(d.Get(k));
                c->SetMtu(k ? down.mtu : up.mtu);
                c->SetReceiveErrorModel(make_loss(k ? up.loss : down.loss, stream++));
                watch(c, c->GetQueue());
            }
        } else {
            PointToPointHelper h;
            h.SetChannelAttribute("Delay", TimeValue(NanoSeconds(int64_t(up.latency))));
            h.SetQueue("ns3::DropTailQueue<Packet>", "MaxSize", StringValue(q));
            d = h.Install(e, a);
            for (uint32_t k = 0; k < 2; k++) {
                const link_cfg& tx = k ? down : up; // what this device sends on
                Ptr<PointToPointNetDevice> p = DynamicCast<PointToPointNetDevice>(d.Get(k));
                p->SetDataRate(DataRate(rate_str(tx.rate_bps)));
                p->SetMtu(tx.mtu);
                p->GetQueue()->SetMaxSize(QueueSize(queue_str(tx.rate_bps, tx.queue)));
                p->SetReceiveErrorModel(make_loss(k ? up.loss : down.loss, stream++));
                watch(p, p->GetQueue());
            }
        }
        return d;
    }

    void build(uint64_t seed)
    {
        // MRG32k3a: seed in [1, m1), the rest of the 64 bits as the run number.
        const uint64_t m1 = 4294967087ull;
        RngSeedManager::SetSeed(uint32_t(seed % (m1 - 1) + 1));
        RngSeedManager::SetRun(seed / (m1 - 1));
        // Static neighbours and no DAD: no ND traffic to lose or to wait for.
        Config::SetDefault("ns3::Icmpv6L4Protocol::DAD", BooleanValue(false));

        uint32_t ne = n_ep;
        NodeContainer eps, accs;
        eps.Create(ne);
        accs.Create(ne);
        first_acc_node = accs.Get(0) ? accs.Get(0)->GetId() : 0;
        cli_sock.resize(ne);
        brk_sock.resize(ne);
        listener.resize(ne);
        tcp_defaults();
        InternetStackHelper stack;
        stack.SetIpv4StackInstall(false);
        stack.Install(eps);
        stack.Install(accs);

        int64_t stream = 0;
        ep_sock.resize(ne);
        acc_sock.resize(ne);
        ep_addr.resize(ne);
        acc_addr.resize(ne);
        for (uint32_t i = 0; i < ne; i++) {
            NetDeviceContainer d = link(eps.Get(i), accs.Get(i), stream);
            ep_addr[i] = link_addr(i, 2);
            acc_addr[i] = link_addr(i, 1);
            neighbours(d.Get(0), ep_addr[i], d.Get(1), acc_addr[i]);
            watch_node(eps.Get(i));
            watch_node(accs.Get(i));
            ep_sock[i] = udp(eps.Get(i), kPort);
            acc_sock[i] = udp(accs.Get(i), kPort);
        }

        const bottleneck_cfg& bn = *bn_cfg;
        bottleneck = bn.present;
        if (bottleneck) {
            NodeContainer gs;
            gs.Create(2);
            stack.Install(gs);
            PointToPointHelper h;
            h.SetDeviceAttribute("DataRate", StringValue(rate_str(bn.rate_bps)));
            h.SetChannelAttribute("Delay", TimeValue(NanoSeconds(int64_t(bn.latency))));
            h.SetQueue("ns3::DropTailQueue<Packet>", "MaxSize",
                       StringValue(queue_str(bn.rate_bps, bn.queue)));
            NetDeviceContainer d = h.Install(gs);
            uint32_t mtu = lcfg[NET_UP]->mtu > lcfg[NET_DOWN]->mtu ? lcfg[NET_UP]->mtu
                                                                     : lcfg[NET_DOWN]->mtu;
            for (uint32_t k = 0; k < 2; k++) {
                Ptr<PointToPointNetDevice> p = DynamicCast<PointToPointNetDevice>(d.Get(k));
                p->SetMtu(mtu);
                watch(p, p->GetQueue());
            }
            neighbours(d.Get(0), bn_addr(1), d.Get(1), bn_addr(2));
            watch_node(gs.Get(0));
            watch_node(gs.Get(1));
            gw_sock = udp(gs.Get(0), kPort);
            srv_sock = udp(gs.Get(1), kPort);
        }
    }
};


// ---- the backend's ops (backend.h) ----

struct Ns3Backend
{
    backend base; // first: a backend* is an Ns3Backend*
    Run* r;
};

Run& run_of(backend* b)
{
    return *reinterpret_cast<Ns3Backend*>(b)->r;
}

const Run& run_of(const backend* b)
{
    return *reinterpret_cast<const Ns3Backend*>(b)->r;
}

int ns3_open(backend** out, const backend_setup* s)
{
    *out = nullptr;
    Ns3Backend* h = new (std::nothrow) Ns3Backend{};
    Run* r = h ? new (std::nothrow) Run(g_lock) : nullptr;
    sim_engine* e = r ? sim_engine_new(64, s->engine_ud) : nullptr;
    if (!e) {
        delete r;
        delete h;
        return SIM_ERR_NOMEM;
    }
    h->base = backend{backend_ns3, nullptr, 0, nullptr};
    h->r = r;
    r->eng = e;
    r->cfg = s->cfg;
    r->cb = s->cb;
    r->n_ep = s->n_ep;
    r->lcfg[NET_UP] = s->up;
    r->lcfg[NET_DOWN] = s->down;
    r->bn_cfg = s->bottleneck;
    try {
        r->build(s->seed);
    } catch (const std::bad_alloc&) {
        Simulator::Destroy();
        sim_engine_delete(e);
        delete r;
        delete h;
        return SIM_ERR_NOMEM;
    }
    // Before any timer is armed: from here on they run on ns-3.
    r->sched = sim_sched{&Run::arm, &Run::cancel, &Run::run, &Run::stop, r};
    sim_engine_set_sched(e, &r->sched);
    r->sync();
    *out = &h->base;
    return 0;
}

void ns3_close(backend* b)
{
    if (!b)
        return;
    Ns3Backend* h = reinterpret_cast<Ns3Backend*>(b);
    Simulator::Destroy();
    sim_engine_set_sched(h->r->eng, nullptr);
    sim_engine_delete(h->r->eng);
    delete h->r; // releases the lock
    delete h;
}

sim_engine* ns3_engine(backend* b)
{
    return run_of(b).eng;
}

uint64_t ns3_run_until(backend* b, sim_time until)
{
    return sim_engine_run(run_of(b).eng, until);
}

// Timers armed and datagrams neither delivered nor lost yet.
uint64_t ns3_pending(const backend* b)
{
    const Run& r = run_of(b);
    return sim_engine_pending(r.eng) + r.in_flight.size();
}

int ns3_error(const backend* b)
{
    return sim_engine_error(run_of(b).eng);
}

const net_stats* ns3_stats(const backend* b)
{
    return &run_of(b).st;
}

int ns3_send(backend* b, uint32_t ep, net_dir dir, const uint8_t* buf, size_t len,
             const net_meta* meta)
{
    return Run::send(&run_of(b), ep, dir, buf, len, meta);
}

// No multicast through ns-3 (the scenario check refuses it).
int ns3_send_multicast(backend*, uint32_t, uint32_t, const uint8_t*, size_t, const net_meta*)
{
    return SIM_ERR_INVAL;
}

// The client's end connects; the broker's is the access node's listening
// socket, made with the first connection.
int ns3_stream_open(backend* b, backend_stream* s, uint8_t*, uint32_t, sim_rng*)
{
    return s->broker ? 0 : run_of(b).tcp_connect(s->ep);
}

// Bytes the socket refuses (no connection, a full buffer) are lost, as
// natively; the run is told they were taken, as it always was on ns-3.
bool ns3_stream_send(backend* b, backend_stream* s, const uint8_t* buf, size_t len)
{
    Run& r = run_of(b);
    Ptr<Socket> k = (s->broker ? r.brk_sock : r.cli_sock)[s->ep];
    if (k)
        k->Send(buf, uint32_t(len), 0);
    return true;
}

void ns3_stream_close(backend* b, backend_stream* s)
{
    Run& r = run_of(b);
    Ptr<Socket> k = (s->broker ? r.brk_sock : r.cli_sock)[s->ep];
    if (!k)
        return;
    if (Run::SockInfo* si = r.info_of(k))
        si->closing = true;
    k->Close();
}

// Drop one end at once: no more callbacks from it, and TCP_EV_CLOSED now,
// as our TCP model does.  ns-3's sockets cannot send a RST on demand: the
// peer sees a FIN.
void ns3_stream_abort(backend* b, backend_stream* s)
{
    Run& r = run_of(b);
    std::vector<Ptr<Socket>>& v = s->broker ? r.brk_sock : r.cli_sock;
    Ptr<Socket> k = v[s->ep];
    if (!k)
        return;
    r.forget(k);
    v[s->ep] = nullptr;
    k->Close();
    r.cb->event(r.cb->ud, s->ep, s->broker, TCP_EV_CLOSED);
    r.cb->changed(r.cb->ud, s->ep);
}

// ns-3 runs its sockets' timers.
sim_time ns3_stream_expiry(const backend*, const backend_stream*)
{
    return SIM_TIME_NEVER;
}

void ns3_stream_expire(backend*, backend_stream*) {}

} // namespace

extern "C" {
const backend_ops ns3_ops = {
    .name = "ns3",
    .any_placement = false,
    .one_at_a_time = true,
    .remote_server = false,
    .open = ns3_open,
    .close = ns3_close,
    .engine = ns3_engine,
    .run = ns3_run_until,
    .pending = ns3_pending,
    .error = ns3_error,
    .stats = ns3_stats,
    .send = ns3_send,
    .send_multicast = ns3_send_multicast,
    .stream_open = ns3_stream_open,
    .stream_send = ns3_stream_send,
    .stream_close = ns3_stream_close,
    .stream_abort = ns3_stream_abort,
    .stream_expiry = ns3_stream_expiry,
    .stream_expire = ns3_stream_expire,
    .probe = nullptr,
    .gen_stats = nullptr,
    .probe_stream = nullptr,
    .addrs = nullptr,
};
const backend_ops* const backend_ns3 = &ns3_ops;
}

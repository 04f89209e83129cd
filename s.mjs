import dgram from 'node:dgram';
const a = dgram.createSocket({type:'udp4', reuseAddr:true});
a.on('error', e=>{console.log('a err', e.code)});
a.bind(67, '0.0.0.0', ()=>{console.log('a bound');
 const b = dgram.createSocket({type:'udp4', reuseAddr:true});
 b.on('error', e=>{console.log('b err', e.code)});
 b.bind(67, '10.99.0.1', ()=>{ b.setBroadcast(true); b.connect(68, '255.255.255.255', (e)=>{ console.log('b connected', e?.code); b.send(Buffer.from('hello'), (e)=>{console.log('sent', e?.code); process.exit(0)}); }); });
});

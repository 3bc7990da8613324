import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Properties;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The reference for key placement: Kafka's own Java producer with its default partitioner (what the Confluent
 * REST proxy runs). Usage: {@code java -cp 'libs/*' KeyedProducer.java BOOTSTRAP TOPIC < keys}; produces one
 * record per input line (the line's UTF-8 bytes as its key, {@code {}} as its value) and prints
 * {@code partition=<p>} for each, in order.
 */
public class KeyedProducer {
    public static void main(String[] args) throws Exception {
        Properties settings = new Properties();
        settings.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        settings.put(ProducerConfig.ACKS_CONFIG, "all");
        byte[] value = "{}".getBytes(StandardCharsets.UTF_8);
        try (KafkaProducer<byte[], byte[]> producer =
                     new KafkaProducer<>(settings, new ByteArraySerializer(), new ByteArraySerializer());
             BufferedReader keys = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
            String key;
            while ((key = keys.readLine()) != null) {
                byte[] bytes = key.getBytes(StandardCharsets.UTF_8);
                RecordMetadata stored = producer.send(new ProducerRecord<>(args[1], bytes, value)).get();
                System.out.println("partition=" + stored.partition());
            }
        }
    }
}
